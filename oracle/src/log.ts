/**
 * Structured logs (pino). Secrets never reach a log line: the logger redacts every field that can
 * carry one (keys, RPC/Redis URLs, passwords) at any depth we use, and the config is logged only
 * through `redactedConfig`. Each request gets a child logger (`requestLogger`).
 */
import pino, { Logger } from "pino";

export type { Logger };

/** Field paths replaced by "[secret]" wherever they appear. */
export const REDACT_PATHS = [
  "privateKey", "privateKeys", "key", "secret", "password", "keystorePassword", "rpcUrl", "redisUrl", "mnemonic",
  "*.privateKey", "*.privateKeys", "*.key", "*.secret", "*.password", "*.keystorePassword", "*.rpcUrl", "*.redisUrl", "*.mnemonic",
  "config.privateKeys", "config.rpcUrl", "config.redisUrl",
];

export interface LoggerOptions {
  level?: string;
  /** Where lines go (default stdout); tests pass a stream to read them. */
  destination?: pino.DestinationStream;
  name?: string;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      name: opts.name ?? "oracle",
      level: opts.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[secret]" },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A child logger bound to one request, so every line about it can be found by its id. */
export function requestLogger(log: Logger, requestId: bigint | string): Logger {
  return log.child({ requestId: requestId.toString() });
}
