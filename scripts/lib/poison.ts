/** The poison-pill set: every way a record on payment-successful can be unusable. */
export function poisonPills(userId: number, marker: string): Array<{ why: string; value: string | null }> {
  return [
    { why: 'invalid JSON', value: `{"user_id": ${userId}, "cart": [ ${marker}` },
    { why: 'JSON that is not an object', value: `"just text ${marker}"` },
    { why: 'the wrong shape', value: JSON.stringify({ user_id: 'nobody', cart: [], marker, timestamp: 1 }) },
    { why: 'a negative price', value: JSON.stringify({ user_id: userId, cart: [{ name: marker, price: -1 }], timestamp: 1 }) },
    {
      why: 'an amount that contradicts its cart',
      value: JSON.stringify({ user_id: userId, cart: [{ name: marker, price: 5 }], amount: 1, timestamp: 1 }),
    },
    { why: 'a tombstone (null value)', value: null },
  ];
}
