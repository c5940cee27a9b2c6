const MASK = '***';

/**
 * The URL with its password (in its user part, or as pg's `?password=`) replaced by `***`, fit to print. A value
 * that is not a URL with a `//` part is not shown at all: the URL class reads `smtp:user:pass@host` as a path.
 */
export function redactUrl(value: string): string {
  const url = parseUrl(value);
  if (!url) return '(not a valid URL)';
  if (url.password) url.password = MASK;
  if (url.searchParams.has('password')) url.searchParams.set('password', MASK);
  return url.toString();
}

/** The settings that hold a secret: the passwords inside the two URLs, and the read token itself. */
export type SecretSettings = Partial<Record<'DATABASE_URL' | 'SMTP_URL' | 'READ_TOKEN', string | undefined>>;

/**
 * The secrets of one process's settings, to blank out of anything it prints: a library's error or log line may
 * carry a password in a form the code that prints it never sees (pg, nodemailer, kafkajs through Nest's log).
 */
export class Secrets {
  private constructor(private readonly values: string[]) {}

  static of(settings: SecretSettings): Secrets {
    const found = new Set<string>();
    for (const value of [settings.DATABASE_URL, settings.SMTP_URL]) {
      for (const form of passwordForms(value)) found.add(form);
    }
    if (settings.READ_TOKEN) found.add(settings.READ_TOKEN);
    // As a JSON log line writes them, too: a quote or a backslash in a secret is escaped there.
    for (const secret of [...found]) found.add(JSON.stringify(secret).slice(1, -1));
    // Longest first, so a secret that contains another is blanked whole.
    return new Secrets([...found].sort((a, b) => b.length - a.length));
  }

  redact(text: string): string {
    let result = text;
    for (const secret of this.values) result = result.split(secret).join(MASK);
    return result;
  }

  /** A JSON-like value (a /health answer) with every string in it redacted. */
  redactDeep<T>(value: T): T {
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((item) => this.redactDeep(item)) as T;
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [this.redact(key), this.redactDeep(item)])) as T;
    }
    return value;
  }
}

function parseUrl(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return url.href.startsWith(`${url.protocol}//`) ? url : undefined;
  } catch {
    return undefined;
  }
}

/** A URL's passwords as written (percent-encoded), decoded, and encoded as encodeURIComponent would. */
function passwordForms(value: string | undefined): string[] {
  const url = value ? parseUrl(value) : undefined;
  if (!url) return [];
  const forms: string[] = [];
  if (url.password) {
    forms.push(url.password);
    try {
      forms.push(decodeURIComponent(url.password));
    } catch {
      // Not valid percent-encoding: the written form is the only one.
    }
  }
  const query = url.searchParams.get('password');
  if (query) forms.push(query);
  return forms.flatMap((form) => [form, encodeURIComponent(form)]).filter((form) => form.length > 0);
}
