import { AssignerProtocol, type Admin } from 'kafkajs';
import { GROUP_TOPICS } from '@app/contracts';

export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  /** Next offset the group will read; null when it has committed nothing yet. */
  committed: string | null;
  end: string;
  lag: number;
  /** Client id and host of the member that owns the partition, if any member does. */
  owner: string | null;
}

/**
 * Committed offset, end offset, lag and owner for every partition a group reads, as
 * `kafka-consumer-groups --describe` shows them. A partition with nothing committed lags by everything
 * it holds (the chain's groups start from the beginning).
 */
export async function describeLag(admin: Admin, groups: Record<string, string[]> = GROUP_TOPICS): Promise<PartitionLag[]> {
  const names = Object.keys(groups);
  const { groups: described } = await admin.describeGroups(names);
  const rows: PartitionLag[] = [];
  // Groups share topics (analytics reads them all): ask for each topic's end offsets once per look.
  const endOffsets = new Map<string, ReturnType<Admin['fetchTopicOffsets']>>();
  const endsOf = (topic: string) => endOffsets.get(topic) ?? endOffsets.set(topic, admin.fetchTopicOffsets(topic)).get(topic)!;
  for (const group of names) {
    const owners = ownersOf(described.find((g) => g.groupId === group));
    const topics = groups[group];
    const committed = await admin.fetchOffsets({ groupId: group, topics });
    for (const topic of topics) {
      const ends = await endsOf(topic);
      const start = new Map(ends.map((p) => [p.partition, p.low]));
      const offsets = committed.find((t) => t.topic === topic)?.partitions ?? [];
      for (const end of ends) {
        const raw = offsets.find((p) => p.partition === end.partition)?.offset ?? '-1';
        const next = raw === '-1' ? null : raw;
        const from = BigInt(next ?? start.get(end.partition) ?? '0');
        rows.push({
          group,
          topic,
          partition: end.partition,
          committed: next,
          end: end.high,
          lag: Number(BigInt(end.high) - from),
          owner: owners.get(`${topic}:${end.partition}`) ?? null,
        });
      }
    }
  }
  return rows;
}

export function totalLag(rows: PartitionLag[]): number {
  return rows.reduce((sum, row) => sum + row.lag, 0);
}

function ownersOf(group: Awaited<ReturnType<Admin['describeGroups']>>['groups'][number] | undefined): Map<string, string> {
  const owners = new Map<string, string>();
  for (const member of group?.members ?? []) {
    const assignment = AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment ?? {};
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) owners.set(`${topic}:${partition}`, `${member.clientId}@${member.clientHost}`);
    }
  }
  return owners;
}
