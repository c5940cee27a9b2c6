import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Header, Sse, UseGuards, type MessageEvent } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProduces } from '@nestjs/swagger';
import { map, type Observable } from 'rxjs';
import { ReadTokenGuard } from '@app/platform';
import { LiveService } from './live.service';

/** The page, built beside the service (an asset of `nest build`). */
const PAGE = readFileSync(join(__dirname, 'live', 'index.html'), 'utf8');

/** `GET /`: the live page; `GET /live`: what it shows, as server-sent events. */
@Controller()
export class LiveController {
  constructor(private readonly live: LiveService) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @ApiProduces('text/html')
  @ApiOkResponse({ description: 'The live page: totals, revenue, orders per second, top products, lag and dead letters.' })
  page(): string {
    return PAGE;
  }

  /** One `snapshot` event a second. With READ_TOKEN set, the page passes its own `?token=` on. */
  @Sse('live')
  @UseGuards(ReadTokenGuard)
  @ApiBearerAuth()
  stream(): Observable<MessageEvent> {
    return this.live.snapshots.pipe(map((snapshot) => ({ type: 'snapshot', data: snapshot })));
  }
}
