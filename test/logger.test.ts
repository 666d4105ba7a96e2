import { expect } from 'chai';
import { createLogger, createSilentLogger, isLogLevel } from '../src/logger.js';
import { captureLog as capture } from './support/log-capture.js';

describe('logger', () => {
  it('writes one JSON object per line with level, message, timestamp and fields', () => {
    const out = capture();
    const logger = createLogger('info', { stream: out.stream });
    logger.info('admission review', { uid: 'u1', durationMs: 0.5 });
    const [line] = out.lines();
    expect(line).to.include({ level: 'info', message: 'admission review', uid: 'u1', durationMs: 0.5 });
    expect(Date.parse(String(line?.timestamp))).to.be.a('number').and.not.be.NaN;
  });

  it('drops lines below its level', () => {
    const out = capture();
    const logger = createLogger('warn', { stream: out.stream });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(out.lines().map((l) => l.message)).to.deep.equal(['w', 'e']);
  });

  it('keeps the stack of a logged error', () => {
    const out = capture();
    createLogger('error', { stream: out.stream }).error(new Error('boom'));
    const [line] = out.lines();
    expect(line?.message).to.equal('boom');
    expect(String(line?.stack)).to.include('Error: boom');
  });

  it('has a silent variant that accepts every call', () => {
    const logger = createSilentLogger();
    logger.error('nothing', { a: 1 });
    logger.debug('nothing');
    expect(logger.silent).to.equal(true);
  });

  it('knows its levels', () => {
    expect(['error', 'warn', 'info', 'debug'].every(isLogLevel)).to.equal(true);
    expect(isLogLevel('trace')).to.equal(false);
  });
});
