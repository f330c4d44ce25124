// What the server tests read back from a running server: a /metrics value, and a wait for a condition.

/** The value of the unlabelled Prometheus sample `name` on the server's /metrics (NaN if absent). */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

/** Polls `check` every 25 ms until it holds; throws after 30 s naming `what`. */
export async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let waited = 0; !(await check()); waited += 25) {
    if (waited > 30_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
