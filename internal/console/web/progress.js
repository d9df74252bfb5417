// Rate and time remaining of a running apply, computed in the page from the
// progress counter it polls.

/**
 * RateMeter keeps (time, processed) samples over a sliding window and
 * answers the recent rate in changes per second. A window rather than the
 * average since the start, so a slow first batch does not skew the estimate
 * for the rest of the run.
 */
export class RateMeter {
  /** @param {number} windowMs how far back samples count */
  constructor(windowMs = 10000) {
    this.windowMs = windowMs;
    this.samples = [];
  }

  /** add records that `processed` changes were done at time `atMs`. */
  add(atMs, processed) {
    const last = this.samples[this.samples.length - 1];
    if (last && (atMs < last.at || processed < last.processed)) {
      // A clock step or a restarted counter: earlier samples no longer
      // describe this run.
      this.samples = [];
    }
    if (last && atMs === last.at) {
      last.processed = processed;
    } else {
      this.samples.push({ at: atMs, processed });
    }
    // Keep one sample older than the window, so the window stays covered
    // while updates are sparse.
    while (this.samples.length > 2 && atMs - this.samples[1].at >= this.windowMs) {
      this.samples.shift();
    }
  }

  /** rate in changes per second over the window, or null before it is known. */
  rate() {
    if (this.samples.length < 2) return null;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = (last.at - first.at) / 1000;
    if (seconds <= 0) return null;
    return (last.processed - first.processed) / seconds;
  }
}

/**
 * secondsRemaining estimates the time left at the given rate, or null when
 * it cannot be told (no rate yet, or nothing moving).
 */
export function secondsRemaining(total, processed, rate) {
  const left = Math.max(0, total - processed);
  if (left === 0) return 0;
  if (rate === null || rate === undefined || !(rate > 0)) return null;
  return left / rate;
}

/** percentOf is processed/total as a percentage clamped to 0..100. */
export function percentOf(processed, total) {
  if (!(total > 0)) return 0;
  return Math.min(100, Math.max(0, (processed / total) * 100));
}
