/** How the `serve` process ends: on a crash, and on SIGTERM or SIGINT. */
import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';

export function installCrashHandlers(logger: Logger): void {
  // State after an unexpected error is unknown; exiting lets Kubernetes start a clean replacement.
  const crash = (kind: string) => (err: unknown) => {
    logger.error(kind, {
      error: err instanceof Error ? err.message : String(err),
      ...(err instanceof Error && err.stack !== undefined ? { stack: err.stack } : {}),
    });
    process.exit(1);
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled promise rejection'));
}

/**
 * Installs the SIGTERM and SIGINT handlers that run `stop` and exit 0 once it is done, 1 if it fails
 * or outlives shutdownTimeoutSeconds, or at once on a second signal. Give it to startServe's
 * onStoppable, which calls it before any slow start-up step, so a pod deleted while starting still
 * exits cleanly.
 */
export function exitOnSignals(config: Config, logger: Logger): (stop: () => Promise<void>) => void {
  return (stop) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn('second signal during shutdown; exiting now', { signal });
        process.exit(1);
      }
      stopping = true;
      logger.info('received signal; shutting down', {
        signal,
        delaySeconds: config.shutdownDelaySeconds,
        timeoutSeconds: config.shutdownTimeoutSeconds,
      });
      setTimeout(() => {
        logger.error('shutdown did not finish in time; exiting with requests still in flight', {
          timeoutSeconds: config.shutdownTimeoutSeconds,
        });
        process.exit(1);
      }, config.shutdownTimeoutSeconds * 1000).unref();
      void stop().then(
        () => {
          process.exit(0);
        },
        (err: unknown) => {
          logger.error('shutdown failed', { error: err instanceof Error ? err.message : String(err) });
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  };
}
