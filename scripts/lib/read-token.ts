/** The header the read endpoints need when READ_TOKEN is set in this environment (see the README); none otherwise. */
export function readTokenHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return env.READ_TOKEN ? { Authorization: `Bearer ${env.READ_TOKEN}` } : {};
}

/** A curl command to print as a hint for a read endpoint: it names the token's variable, never its value. */
export function readCurl(url: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.READ_TOKEN ? `curl -H "Authorization: Bearer $READ_TOKEN" '${url}'` : `curl '${url}'`;
}
