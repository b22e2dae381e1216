/** Progress on stderr (stdout carries the suite's result). */
export function progressLogger(suite: string): (message: string) => void {
  return (message) => {
    process.stderr.write(`[bench ${suite} ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
  };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
