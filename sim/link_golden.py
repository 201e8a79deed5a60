"""Golden twins of the host link's on-chip parts: the epoch order
(:class:`~layerpipe.hw.link.epoch_order.EpochOrder`) and the per-epoch
counters (:class:`~layerpipe.hw.link.epoch_counters.EpochCounters`)."""
import numpy as np

from layerpipe.hw.link.epoch_order import lfsr_step


class EpochOrder:
    """The LFSR walk over the stored samples 0..count-1: ``epoch()`` returns
    the next epoch's indices, continuing where the last one stopped."""

    def __init__(self, count, seed_state, m):
        if not 1 <= count <= 2 ** m - 1 or not 1 <= seed_state <= 2 ** m - 1:
            raise ValueError(f"count {count} and seed state {seed_state} must be in 1..{2 ** m - 1}")
        self.count, self.m, self.state = count, m, seed_state

    def epoch(self):
        out = []
        while len(out) < self.count:
            if self.state - 1 < self.count:
                out.append(self.state - 1)
            self.state = lfsr_step(self.state, self.m)
        return out


def seed_state(seed, m):
    """The START command's LFSR state for a user's seed: 1 .. 2^m - 1."""
    return seed % (2 ** m - 1) + 1


def epoch_counters(results, labels, one):
    """Counters of one epoch: ``results`` (samples x outputs, integers in the
    act format), ``labels``; ``one`` is 1.0 in the act format.

    ``correct`` counts samples whose first largest output is the label;
    ``abs_error`` sums |a_L - y| over samples and outputs (y one-hot),
    modulo 2^32 as the 32-bit counter does."""
    a = np.asarray(results, dtype=np.int64)
    y = np.zeros_like(a)
    y[np.arange(len(a)), np.asarray(labels)] = one
    return {"samples": len(a), "correct": int(np.sum(np.argmax(a, axis=1) == np.asarray(labels))),
            "abs_error": int(np.abs(a - y).sum()) % 2 ** 32}
