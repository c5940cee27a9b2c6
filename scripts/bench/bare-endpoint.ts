import 'reflect-metadata';
import { Body, Controller, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

/**
 * The HTTP benchmark's yardstick: a bare Nest endpoint on the same platform (Express), parsing the same
 * JSON body and answering 200, with no validation, no Kafka and no logging. What POST /payment costs beyond
 * this is what the product adds.
 */
@Controller('payment')
class BareController {
  @Post()
  @HttpCode(200)
  pay(@Body() body: { user_id?: number }) {
    return { payment_id: 'bare', amount: body.user_id ?? 0 };
  }
}

@Module({ controllers: [BareController] })
class BareModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(BareModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT), '127.0.0.1');
}

void main();
