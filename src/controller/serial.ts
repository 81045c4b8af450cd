/**
 * One mutation at a time: a controller operation validates, allocates, does kernel work and
 * commits without another operation seeing it half-done. Reads never wait.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    // The next operation waits for this one to settle, however it ends: its caller gets the error.
    this.tail = result.then(settled, settled);
    return result;
  }
}

function settled(): void {}
