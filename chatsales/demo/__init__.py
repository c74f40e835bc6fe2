"""The seeded demo dataset: a mid-size brand's chat platform, web orders, POS exports and campaigns."""

from chatsales.demo.generator import DemoManifest, generate_demo

__all__ = ["DemoManifest", "generate_demo"]
