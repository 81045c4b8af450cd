/**
 * A driver step that failed half-way undoes what it made before its error goes up. Drivers have
 * no log: when the cleanup fails too, the error says so and what may be left, so the
 * controller's log shows it.
 */
export async function cleanUpAfter(err: unknown, leaves: string, cleanup: () => Promise<unknown>): Promise<never> {
  try {
    await cleanup();
  } catch (cleanupErr) {
    if (err instanceof Error) err.message += ` (cleaning up failed too, ${leaves} may be left: ${cleanupErr instanceof Error ? cleanupErr.message : String(cleanupErr)})`;
  }
  throw err;
}
