export * from './topics';
export * from './validation';
export * from './cart-item.dto';
export * from './payment-request.dto';
export * from './payment-successful.event';
export * from './order-created.event';
export * from './email-sent.event';
export * from './dead-letter.record';
