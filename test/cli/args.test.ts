import { expect } from 'chai';
import { USAGE, parseArguments } from '../../src/cli/args.js';

describe('cli/args', () => {
  it('takes serve with every configuration flag, in both spellings', () => {
    expect(
      parseArguments([
        'serve',
        '--port',
        '9443',
        '--host=127.0.0.1',
        '--tls-mode',
        'files',
        '--tls-cert',
        '/c.pem',
        '--tls-key',
        '/k.pem',
        '--config',
        '/etc/ph.yaml',
        '--kubeconfig',
        '/kc',
        '--log-level',
        'debug',
        '--default-mode',
        'audit',
      ]),
    ).to.deep.equal({
      kind: 'serve',
      configFlags: {
        port: '9443',
        host: '127.0.0.1',
        'tls-mode': 'files',
        'tls-cert': '/c.pem',
        'tls-key': '/k.pem',
        config: '/etc/ph.yaml',
        kubeconfig: '/kc',
        'log-level': 'debug',
        'default-mode': 'audit',
      },
    });
  });

  it('takes flags before the command too', () => {
    expect(parseArguments(['--port', '1', 'serve'])).to.deep.equal({
      kind: 'serve',
      configFlags: { port: '1' },
    });
  });

  it('puts --help before --version, and both before the command, whatever it is', () => {
    expect(parseArguments(['--help'])).to.deep.equal({ kind: 'help' });
    expect(parseArguments(['-h'])).to.deep.equal({ kind: 'help' });
    expect(parseArguments(['--version', '--help'])).to.deep.equal({ kind: 'help' });
    expect(parseArguments(['--version'])).to.deep.equal({ kind: 'version' });
    expect(parseArguments(['serve', '--version'])).to.deep.equal({ kind: 'version' });
    expect(parseArguments(['launch', '--version'])).to.deep.equal({ kind: 'version' });
  });

  it('reports no command without a problem, so only the usage is shown', () => {
    expect(parseArguments([])).to.deep.equal({ kind: 'misuse' });
  });

  it('reports an unknown command, an extra argument, an unknown flag and a flag without its value', () => {
    expect(parseArguments(['launch'])).to.deep.equal({ kind: 'misuse', problem: 'unknown command "launch"' });
    expect(parseArguments(['serve', 'now'])).to.deep.equal({
      kind: 'misuse',
      problem: 'unexpected argument "now"',
    });
    const unknownFlag = parseArguments(['serve', '--prot', '1']);
    expect(unknownFlag.kind).to.equal('misuse');
    expect(unknownFlag).to.have.property('problem').that.includes("'--prot'");
    const missingValue = parseArguments(['serve', '--port']);
    expect(missingValue.kind).to.equal('misuse');
    expect(missingValue).to.have.property('problem').that.includes('--port');
  });

  it('documents every flag it accepts', () => {
    const flags = ['--port', '--host', '--tls-mode', '--tls-cert', '--tls-key', '--config', '--kubeconfig'];
    for (const flag of [...flags, '--log-level', '--default-mode', '--help', '--version']) {
      expect(USAGE).to.include(flag);
    }
    expect(USAGE).to.include('POD_HARDENER_CONFIG');
  });

  it('passes global options before harden, fn or audit on to the command', () => {
    expect(parseArguments(['--config', 'c.yaml', 'harden', 'f.yaml'])).to.deep.equal({
      kind: 'harden',
      argv: ['--config', 'c.yaml', 'f.yaml'],
    });
    expect(parseArguments(['--config=c.yaml', '--kubeconfig', 'kc', 'audit', '-n', 'shop'])).to.deep.equal({
      kind: 'audit',
      argv: ['--config=c.yaml', '--kubeconfig', 'kc', '-n', 'shop'],
    });
    expect(parseArguments(['harden', '--check'])).to.deep.equal({ kind: 'harden', argv: ['--check'] });
    // --help before a command is the command's help; --version alone is the program's.
    expect(parseArguments(['--help', 'audit'])).to.deep.equal({ kind: 'audit', argv: ['--help'] });
    expect(parseArguments(['--version', 'harden', 'f.yaml'])).to.deep.equal({ kind: 'version' });
    // A command's own options still follow it.
    const early = parseArguments(['--check', 'harden', 'f.yaml']);
    expect(early.kind).to.equal('misuse');
    expect(early).to.have.property('problem').that.includes("'--check'");
    // A flag with no value before the command does not swallow the command.
    expect(parseArguments(['--config', 'harden']).kind).to.equal('misuse');
  });

  it('documents the global options', () => {
    expect(USAGE).to.match(/Global options, before the command or after it:/);
    expect(USAGE).to.include('pod-hardener [global options] harden');
  });
});
