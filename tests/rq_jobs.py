"""Functions RQ runs in the Redis tests (RQ imports jobs by dotted name)."""

import os


def describe_worker(word: str) -> str:
    return f"{word} from pid {os.getpid()}"
