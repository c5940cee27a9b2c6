/** Topic and consumer-group names fixed by DESIGN.md; every producer, consumer, tool and test reads them from here. */
export const TOPICS = {
  paymentSuccessful: 'payment-successful',
  orderCreated: 'order-created',
  emailSent: 'email-sent',
} as const;

export type EventTopic = (typeof TOPICS)[keyof typeof TOPICS];

export const DLQ_TOPICS = {
  [TOPICS.paymentSuccessful]: 'dlq-payment',
  [TOPICS.orderCreated]: 'dlq-order',
  [TOPICS.emailSent]: 'dlq-email',
} as const satisfies Record<EventTopic, string>;

export type DeadLetterTopic = (typeof DLQ_TOPICS)[EventTopic];

export const CONSUMER_GROUPS = {
  order: 'order-service-group',
  email: 'email-service-group',
  analytics: 'analytics-service-group',
} as const;

/** The topics each group of the chain reads (DESIGN.md). */
export const GROUP_TOPICS: Record<string, string[]> = {
  [CONSUMER_GROUPS.order]: [TOPICS.paymentSuccessful],
  [CONSUMER_GROUPS.email]: [TOPICS.orderCreated],
  [CONSUMER_GROUPS.analytics]: [TOPICS.paymentSuccessful, TOPICS.orderCreated, TOPICS.emailSent],
};

export function deadLetterTopicFor(topic: string): DeadLetterTopic {
  const dlq = (DLQ_TOPICS as Record<string, DeadLetterTopic>)[topic];
  if (!dlq) throw new Error(`no dead-letter topic is defined for "${topic}"`);
  return dlq;
}
