import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UserError } from '../errors.js';
import { AnswerError, type Field, FlagAnswers, PromptAnswers } from './answers.js';
import { Prompter } from './prompter.js';

/** A prompter on in-memory streams; `screen()` is everything written to the "terminal". */
function harness(terminal: boolean) {
  const input = new PassThrough();
  const output = new PassThrough();
  let screen = '';
  output.setEncoding('utf8').on('data', (chunk: string) => {
    screen += chunk;
  });
  let cancelled = 0;
  const prompter = new Prompter({
    input,
    output,
    terminal,
    onCancel: () => {
      cancelled++;
    },
  });
  return { input, prompter, screen: () => screen, cancelled: () => cancelled };
}

const port: Field<number> = {
  flag: '--port',
  label: 'Port',
  default: '80',
  parse: (text) => {
    if (!/^\d+$/.test(text)) throw new AnswerError('a whole number');
    return Number(text);
  },
};

const secret: Field<string> = {
  flag: '--password',
  label: 'Password',
  secret: { env: 'TEST_PASSWORD' },
  parse: (text) => {
    if (text === '') throw new AnswerError('required');
    return text;
  },
};

describe('Prompter', () => {
  it('shows the default and returns an empty answer as empty', async () => {
    const { input, prompter, screen } = harness(false);
    const answer = prompter.ask('Port', { defaultText: '80' });
    input.write('\n');
    expect(await answer).toBe('');
    expect(screen()).toContain('Port [80]: ');
    prompter.close();
  });

  it('does not echo a secret typed at a terminal', async () => {
    const { input, prompter, screen } = harness(true);
    const answer = prompter.ask('Password', { secret: true });
    input.write('hunter2-typed\r');
    expect(await answer).toBe('hunter2-typed');
    expect(screen()).toContain('Password: ');
    expect(screen()).not.toContain('hunter2');
    // And the next, ordinary answer is echoed again.
    const next = prompter.ask('Port');
    input.write('8080\r');
    expect(await next).toBe('8080');
    expect(screen()).toContain('8080');
    prompter.close();
  });

  it('cancels on Ctrl-C at a terminal', async () => {
    const { input, prompter, cancelled } = harness(true);
    const answer = prompter.ask('Port');
    input.write('\u0003');
    await expect(answer).rejects.toThrow(/cancelled; nothing was written/);
    expect(cancelled()).toBe(1);
  });

  it('fails when the input ends', async () => {
    const { input, prompter } = harness(false);
    const answer = prompter.ask('Port');
    input.end();
    await expect(answer).rejects.toBeInstanceOf(UserError);
  });
});

describe('PromptAnswers', () => {
  it('re-asks a bad answer, saying what is wrong, and takes the default on empty', async () => {
    const { input, prompter, screen } = harness(false);
    const answers = new PromptAnswers(prompter, new Map(), {});
    const value = answers.get(port);
    input.write('eighty\n');
    input.write('\n');
    expect(await value).toBe(80);
    expect(screen()).toContain('✗ a whole number');
    expect(screen().match(/Port \[80\]: /g)).toHaveLength(2);
    prompter.close();
  });

  it('uses a flag without asking, and asks again when the flag is bad', async () => {
    const { input, prompter, screen } = harness(false);
    const good = new PromptAnswers(prompter, new Map([['--port', '554']]), {});
    expect(await good.get(port)).toBe(554);
    expect(screen()).not.toContain('Port');
    const bad = new PromptAnswers(prompter, new Map([['--port', 'x']]), {});
    const value = bad.get(port);
    input.write('8000\n');
    expect(await value).toBe(8000);
    expect(screen()).toContain('✗ --port: a whole number');
    prompter.close();
  });

  it('again() shows the problem and asks afresh, even with a flag given', async () => {
    const { input, prompter, screen } = harness(false);
    const answers = new PromptAnswers(prompter, new Map([['--password', 'old']]), {});
    const value = answers.again(secret, 'the camera refused the user name or password');
    input.write('new-one\n');
    expect(await value).toBe('new-one');
    expect(screen()).toContain('✗ the camera refused the user name or password');
    prompter.close();
  });
});

describe('FlagAnswers', () => {
  const out: string[] = [];
  it('takes flags, defaults, and a secret from its environment variable', async () => {
    const answers = new FlagAnswers(new Map([['--port', '554']]), (t) => out.push(t), {
      TEST_PASSWORD: 'from-env',
    });
    expect(await answers.get(port)).toBe(554);
    expect(await answers.get(secret)).toBe('from-env');
    const defaults = new FlagAnswers(new Map(), (t) => out.push(t), {});
    expect(await defaults.get(port)).toBe(80);
  });

  it('names a missing flag, and where else a secret may come from', async () => {
    const answers = new FlagAnswers(new Map(), (t) => out.push(t), {});
    await expect(answers.get(secret)).rejects.toThrow(
      'missing --password (or set TEST_PASSWORD): Password',
    );
  });

  it('names the flag of a bad value, and fails again() naming it', async () => {
    const answers = new FlagAnswers(new Map([['--port', 'x']]), (t) => out.push(t), {});
    await expect(answers.get(port)).rejects.toThrow('--port: a whole number');
    await expect(answers.again(port, 'nobody listens there')).rejects.toThrow(
      '--port: nobody listens there',
    );
  });
});
