import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { testChainSpecs, urlOf } from './support/environment';
import { payment } from './support/http';

interface Schema {
  type?: string;
  required?: string[];
  properties?: Record<string, Schema & Record<string, unknown>>;
  items?: { $ref?: string };
  $ref?: string;
  example?: unknown;
}

/** The example of a schema built from its properties' own examples, following $refs into components. */
function exampleOf(schema: Schema, components: Record<string, Schema>): unknown {
  if (schema.$ref) return exampleOf(components[schema.$ref.split('/').pop()!], components);
  if (schema.type === 'array' && schema.items) return [exampleOf(schema.items, components)];
  if (schema.properties) return Object.fromEntries(Object.entries(schema.properties).map(([name, p]) => [name, exampleOf(p, components)]));
  return schema.example;
}

describe('API documentation (OpenAPI at /docs)', () => {
  const openApi = async (url: string) => (await request(url).get('/docs-json').expect(200).expect('Content-Type', /json/)).body;

  it.each(testChainSpecs().filter((s) => s.label !== 'order-2' && s.label !== 'order-3').map((s) => [s.service, s] as const))(
    '%s serves its API page and its OpenAPI document, with its routes and health',
    async (service, spec) => {
      const url = `http://127.0.0.1:${spec.port}`;
      const page = await request(url).get('/docs').redirects(1).expect(200);
      expect(page.text).toContain('swagger-ui');
      const doc = await openApi(url);
      expect(doc.openapi).toMatch(/^3\./);
      expect(doc.info.title).toBe(`${service} service`);
      const own = { payment: ['/payment'], order: ['/orders', '/orders/{id}'], email: ['/emails'], analytics: ['/', '/analytics', '/live'] }[service];
      expect(Object.keys(doc.paths).sort()).toEqual([...own, '/health', '/health/live', '/health/ready', '/metrics'].sort());
      if (service === 'order') {
        // Paging from the query DTO that validates it; the read token as a bearer token.
        const list = doc.paths['/orders'].get;
        expect(list.parameters.map((p: { name: string; in: string; required: boolean }) => `${p.in} ${p.name} ${p.required}`).sort()).toEqual(
          ['query limit false', 'query page false', 'query user_id false'],
        );
        expect(list.security).toEqual([{ bearer: [] }]);
      }
    },
  );

  it("describes POST /payment from the DTOs that validate it, and its example is the README's, which the service accepts", async () => {
    const doc = await openApi(urlOf('payment'));
    const post = doc.paths['/payment'].post;
    expect(Object.keys(post.responses).sort()).toEqual(['200', '400', '415', '422', '503']);
    expect(post.parameters).toEqual([expect.objectContaining({ name: 'idempotency-key', in: 'header', required: false, description: expect.stringMatching(/^Makes a retry safe/) })]);
    const body = post.requestBody.content['application/json'].schema;
    expect(body).toEqual({ $ref: '#/components/schemas/PaymentRequestDto' });
    const { PaymentRequestDto: request_, CartItemDto: item } = doc.components.schemas;
    // The validation rules, as class-validator's decorators state them.
    expect(request_.required.sort()).toEqual(['cart', 'user_id']);
    expect(request_.properties.user_id).toMatchObject({ type: 'number', minimum: 1, maximum: 2_147_483_647 });
    expect(request_.properties.cart).toMatchObject({ type: 'array', minItems: 1, maxItems: 100, items: { $ref: '#/components/schemas/CartItemDto' } });
    expect(item.required.sort()).toEqual(['name', 'price']);
    expect(item.properties.name).toMatchObject({ type: 'string', maxLength: 100 });
    expect(item.properties.price).toMatchObject({ type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 1_000_000 });
    expect(item.properties.quantity).toMatchObject({ type: 'number', minimum: 1, maximum: 1000, default: 1 });

    const example = exampleOf(body, doc.components.schemas);
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const curl = /curl -X POST localhost:8000\/payment -H 'Content-Type: application\/json' \\\n\s+-d '([^']+)'/.exec(readme);
    expect(curl).not.toBeNull();
    expect(example).toEqual(JSON.parse(curl![1]));
    const accepted = await payment().post('/payment').send(example as object).expect(200);
    expect(accepted.body).toMatchObject({ status: 'success', user_id: 42, amount: 1999 });
  });
});
