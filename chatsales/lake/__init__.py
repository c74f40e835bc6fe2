"""The lake: every source record chatsales has read, by reporting day, as Parquet under CHATSALES_LAKE_DIR.

Layout (one dataset per source table, one folder per partition, one file per folder):

    sources/<source>/<table>/day=YYYY-MM-DD/part.parquet     day = the record's creation instant, local day
    sources/<source>/<table>/whole/part.parquet              small tables read whole (members, campaigns)
    state/<name>/month=YYYY-MM/part.parquet                  state derived from the sources (chatroom milestones)
    pipeline/<asset>/day=YYYY-MM-DD/part.parquet             what a daily asset handed to the next one
    catalog.sqlite                                           files seen, extractions, change log, order index

Emails are hashed with the keyed hash when they are read, so no raw address is ever written here. Each
partition file is written beside its target and renamed over it, so a reader sees the old or the new file,
never half of one.
"""
