export * from "./types";
export { MemoryQueue } from "./memory";
export { BullQueue, createRedis } from "./bullmq";
