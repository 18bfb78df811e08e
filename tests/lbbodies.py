"""Large request and answer bodies of a known pattern, made as they are
sent (never held whole): for the streaming tests, plain and over TLS."""
import hashlib

PATTERN = bytes(range(256)) * 256
MiB = 1 << 20


def pattern_stream(total, piece=MiB):
    left = total
    while left:
        n = min(left, piece)
        yield (PATTERN * (piece // len(PATTERN) + 1))[:n]
        left -= n


class PatternFile:
    """A file-like body of a known length (requests then sends it with
    Content-Length, read by read())."""

    def __init__(self, total):
        self.left = total
        self.total = total
        self.src = pattern_stream(total)
        self.buf = b""

    def __len__(self):
        return self.total

    def read(self, n=-1):
        while len(self.buf) < (n if n > 0 else self.total):
            try:
                self.buf += next(self.src)
            except StopIteration:
                break
        out, self.buf = (self.buf[:n], self.buf[n:]) if n > 0 else \
            (self.buf, b"")
        return out


def expected_sha(total):
    h = hashlib.sha256()
    for p in pattern_stream(total):
        h.update(p)
    return h.hexdigest()
