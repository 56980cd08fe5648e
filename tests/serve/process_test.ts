import { ARITH_TINY } from "./serve_support.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test("serve: `deno task serve` listens on loopback, answers, and stops on SIGTERM", async () => {
  const child = new Deno.Command("deno", {
    args: ["task", "serve", "--model", ARITH_TINY, "--port", "0", "--served-model-name", "tiny"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Self-stopping: whatever happens below, the process is killed within a minute.
  const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const errText = (async () => {
    let text = "";
    for (let r = await stderr.read(); !r.done; r = await stderr.read()) text += r.value;
    return text;
  })();
  try {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    let url: string | undefined;
    while (!url) {
      const r = await lines.read();
      if (r.done) throw new Error(`the server exited before listening: ${out}\n${await errText}`);
      out += r.value;
      url = out.match(/on (http:\/\/127\.0\.0\.1:\d+)/)?.[1];
    }
    // Later output is drained so the child never blocks on a full pipe.
    (async () => {
      while (!(await lines.read()).done);
    })();
    if ((await fetch(`${url}/health`).then(async (r) => (await r.body?.cancel(), r.status))) !== 200) {
      throw new Error("health");
    }
    const res = await fetch(`${url}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({
        model: "tiny",
        prompt: "3+4=",
        max_tokens: 6,
        temperature: 0,
        return_token_ids: true,
      }),
    });
    const json = await res.json();
    if (res.status !== 200 || json.choices[0].token_ids.length < 1) throw new Error(JSON.stringify(json));
  } finally {
    child.kill("SIGTERM");
    await child.status;
    clearTimeout(guard);
  }
  // Stopped by SIGTERM, the server exits cleanly.
  const status = await child.status;
  if (!status.success) throw new Error(`exit ${status.code} (${status.signal}): ${await errText}`);
});
