"""chatsales: which orders came after a conversation, and how the conversations perform (a Dagster pipeline
over plain modules)."""

import os

# Arrow's buffers come from the system allocator rather than Arrow's default (mimalloc), which keeps what a
# step freed for itself: pandas' own allocations then land on top of it. Said before pyarrow is imported when
# chatsales comes first (mimalloc is then never started), and set on the pool otherwise. Measured on the
# nightly run at 1× in docs/benchmarks.md: less peak memory, growing less with the history, and a little faster.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import pyarrow as _pa  # noqa: E402

_pa.set_memory_pool(_pa.system_memory_pool())
