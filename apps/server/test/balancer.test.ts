import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startReplicatedCluster, type ReplicatedCluster } from "./balancer";
import {
  createAgentWithConnection,
  databaseUnavailable,
  gatewayPost,
  TEST_DB,
  toolCall,
} from "./harness";

describe.skipIf(databaseUnavailable || TEST_DB !== "postgres")(
  "two replicas behind the round-robin test balancer",
  () => {
    let cluster: ReplicatedCluster;
    let upstream: RunningTestMcpServer;

    beforeAll(async () => {
      upstream = await startTestMcpServer();
      cluster = await startReplicatedCluster();
    }, 120_000);
    afterAll(async () => {
      await cluster.close();
      await upstream.close();
    });

    it("sends each request to the next replica, and both serve the same org", async () => {
      const agent = await createAgentWithConnection(cluster, upstream.url);
      const before = cluster.balancer.routed.length;
      const answers = [];
      for (const text of ["one", "two", "three", "four"]) {
        const response = await gatewayPost(
          cluster.url,
          agent.agentId,
          agent.key,
          toolCall("echo", { text }),
        );
        answers.push(
          ((await response.json()) as { result: { content: { text: string }[] } }).result.content[0]
            ?.text,
        );
      }
      expect(answers).toEqual(["one", "two", "three", "four"]);
      const replicas = cluster.balancer.routed.slice(before).map((routed) => routed.replica);
      expect(new Set(replicas)).toEqual(new Set([0, 1]));
      expect(replicas[0]).not.toBe(replicas[1]);
    });
  },
);
