// Chat channels: a project's alerts go to its own Slack and Discord incoming webhooks, each in
// that service's own message format, and never to another project's. The webhooks are answered
// by the test (Miniflare's outbound service), which records every post.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, ADMIN_KEY } from './support/worker.mjs';

let w;
const posts = [];
const down = new Set();
before(async () => {
  // Alerts at ingest time are off (INGEST_ALERTS): the checks these tests make send them.
  w = await startWorker({
    bindings: { INGEST_ALERTS: 'off' },
    outbound: async (request) => {
      posts.push({ url: request.url, headers: Object.fromEntries(request.headers), body: await request.text() });
      return new Response('ok', { status: down.has(request.url) ? 500 : 200 });
    },
  });
});
after(async () => w?.dispose());

const admin = (path, init = {}) => w.fetch(path, { key: ADMIN_KEY, ...init });
const url = (service, id) => `https://${service}.example.com/hooks/${id}`;
const to = (u) => posts.filter((p) => p.url === u).map((p) => JSON.parse(p.body));
const money = (m) => `${m.amount} ${m.currency}`;
const slackEscape = (t) => t.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
const defuse = (t) => t.replaceAll('@everyone', '@\u200Beveryone').replaceAll('@here', '@\u200Bhere');
const DASHBOARD = 'http://127.0.0.1:8787';

async function spend(project, id, body) {
  const r = await admin('/api/usage', { method: 'POST', body: { project_id: project, id, ...body } });
  assert.equal(r.status, 201, r.text);
}

/** What Slack and Discord should receive for a budget level, from the check's own figures. */
function expected(check, level) {
  const title = `[AI spend] ${check.project_name} at ${check.percent_used}% of budget: ${money(check.spend)} of ${money(check.budget)}`;
  const description = [`Project ${check.project_name} (${check.project_id}) passed ${level}% of its monthly budget.`, ...check.recommendations].join('\n');
  const [provider] = check.top_providers;
  const [model] = check.top_models;
  const fields = [
    ['Spent this month', `${money(check.spend)} of ${money(check.budget)} (${check.percent_used}%)`],
    ['Forecast for the month', `${money(check.forecast)} (${check.forecast_percent}% of the budget)`],
    ['Spent today', money(check.today_spend)],
    ['Top provider', `${provider.provider}: ${money(provider.cost)} (${provider.share}%)`],
    ['Top model', `${model.provider} / ${model.model}: ${money(model.cost)} (${model.share}%)`],
  ];
  const link = `${DASHBOARD}/?project=${check.project_id}`;
  return {
    slack: {
      text: slackEscape(title),
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: `*${slackEscape(title)}*` } },
        { type: 'section', text: { type: 'mrkdwn', text: slackEscape(description) } },
        { type: 'section', fields: fields.map(([n, v]) => ({ type: 'mrkdwn', text: `*${slackEscape(n)}*\n${slackEscape(v)}` })) },
        { type: 'section', text: { type: 'mrkdwn', text: `<${link}|Open the dashboard>` } },
      ],
    },
    discord: {
      content: defuse(title),
      embeds: [{
        title: defuse(title),
        description: defuse(description),
        color: 0xF9AB00,
        fields: fields.map(([name, value]) => ({ name, value, inline: true })),
        url: link,
      }],
      allowed_mentions: { parse: [] },
    },
  };
}

test('chat webhook URLs are https, named when wrong, shown in the settings, and null clears one', async () => {
  const created = await admin('/api/admin/projects', { method: 'POST', body: {
    id: 'chat-set', name: 'Set', budget_threshold_usd: '10',
    slack_webhook_url: url('slack', 'set'), discord_webhook_url: url('discord', 'set'),
  } });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual([created.json.budget_settings.slack_webhook_url, created.json.budget_settings.discord_webhook_url],
    [url('slack', 'set'), url('discord', 'set')]);
  const before = await w.snapshot();
  const bad = await admin('/api/admin/projects/chat-set/budget', { method: 'PATCH', body: {
    slack_webhook_url: 'http://hooks.slack.com/services/x', discord_webhook_url: 'discord.com/api/webhooks/1/x',
  } });
  assert.equal(bad.status, 400, bad.text);
  assert.deepEqual(bad.json.error.details.map((d) => d.field), ['slack_webhook_url', 'discord_webhook_url']);
  const badNew = await admin('/api/admin/projects', { method: 'POST', body: { id: 'chat-bad', name: 'Bad', discord_webhook_url: 'ftp://x' } });
  assert.equal(badNew.status, 400, badNew.text);
  assert.deepEqual(badNew.json.error.details.map((d) => d.field), ['discord_webhook_url']);
  assert.deepEqual(await w.snapshot(), before, 'a bad setting changes and creates nothing');

  const cleared = await admin('/api/admin/projects/chat-set/budget', { method: 'PATCH', body: { slack_webhook_url: null } });
  assert.equal(cleared.status, 200, cleared.text);
  const shown = (await admin('/api/admin/projects/chat-set/budget')).json;
  assert.deepEqual([shown.slack_webhook_url, shown.discord_webhook_url, shown.webhook_secret], [null, url('discord', 'set'), null]);
});

test("a project's alert goes to its own Slack and Discord in each service's format, and another project's get nothing", async () => {
  const hostile = 'Ads <b>&</b> @everyone';
  for (const [id, name] of [['chat-a', hostile], ['chat-b', 'Video']]) {
    const r = await admin('/api/admin/projects', { method: 'POST', body: {
      id, name, budget_threshold_usd: '10', slack_webhook_url: url('slack', id), discord_webhook_url: url('discord', id),
    } });
    assert.equal(r.status, 201, r.text);
    await spend(id, `${id}-1`, { provider: 'openai', model: 'gpt-4o', cost: '8.50' });
  }
  posts.length = 0;

  // Only chat-a is checked: chat-b, over its level too, hears nothing.
  const run = await admin('/api/admin/usage/check-budgets?project_id=chat-a', { method: 'POST' });
  assert.equal(run.status, 200, run.text);
  const check = run.json.projects.find((p) => p.project_id === 'chat-a');
  assert.deepEqual([check.levels_crossed, check.action], [['budget-80'], 'sent']);
  assert.deepEqual(check.alerts.map((a) => [a.channel, a.recipient, a.status]),
    [['slack', url('slack', 'chat-a'), 'sent'], ['discord', url('discord', 'chat-a'), 'sent']]);
  const want = expected(check, 80);
  assert.deepEqual(to(url('slack', 'chat-a')), [want.slack]);
  assert.deepEqual(to(url('discord', 'chat-a')), [want.discord]);
  assert.ok(posts.every((p) => p.headers['content-type'] === 'application/json'));
  assert.deepEqual(posts.map((p) => p.url).sort(), [url('discord', 'chat-a'), url('slack', 'chat-a')],
    "chat-b's URLs got nothing");

  // The whole run: chat-b's alert goes to chat-b's URLs only; chat-a's is already sent.
  posts.length = 0;
  const all = await admin('/api/admin/usage/check-budgets', { method: 'POST' });
  assert.equal(all.status, 200, all.text);
  const b = all.json.projects.find((p) => p.project_id === 'chat-b');
  assert.deepEqual(to(url('slack', 'chat-b')), [expected(b, 80).slack]);
  assert.deepEqual(to(url('discord', 'chat-b')), [expected(b, 80).discord]);
  assert.deepEqual([...to(url('slack', 'chat-a')), ...to(url('discord', 'chat-a'))], []);

  const log = (await admin('/api/admin/alerts?project_id=chat-a')).json.alerts;
  assert.deepEqual(log.map((a) => [a.channel, a.recipient, a.status]).sort(),
    [['discord', url('discord', 'chat-a'), 'sent'], ['slack', url('slack', 'chat-a'), 'sent']]);
  assert.deepEqual(JSON.parse(log.find((a) => a.channel === 'slack').payload), want.slack, 'the log keeps what was posted');
});

test("a project's plan alert goes to that project's chat channels, a failed channel blocks no other and is logged", async () => {
  const r = await admin('/api/admin/projects', { method: 'POST', body: {
    id: 'chat-plan', name: 'Clips', alert_emails: ['ops@example.com'],
    slack_webhook_url: url('slack', 'chat-plan'), discord_webhook_url: url('discord', 'chat-plan'),
  } });
  assert.equal(r.status, 201, r.text);
  const plan = await admin('/api/admin/subscriptions', { method: 'PUT', body: {
    provider: 'heygen', project_id: 'chat-plan', monthly_fee: '29', allotment: { amount: '10', unit: 'credits' }, alert_percent: 50,
    alert_emails: ['plans@example.com'],
  } });
  assert.equal(plan.status, 200, plan.text);
  await spend('chat-plan', 'clip-1', { provider: 'heygen', credits: '6' });
  posts.length = 0;
  down.add(url('slack', 'chat-plan'));
  try {
    const run = await admin('/api/admin/usage/check-budgets', { method: 'POST' });
    assert.equal(run.status, 200, run.text);
    const check = run.json.plans.find((p) => p.project_id === 'chat-plan');
    assert.equal(check.action, 'partly_sent');
    assert.deepEqual(check.alerts.map((a) => [a.channel, a.recipient, a.status]), [
      ['email', 'plans@example.com', 'sent'],
      ['slack', url('slack', 'chat-plan'), 'failed'],
      ['discord', url('discord', 'chat-plan'), 'sent'],
    ]);
    const title = `[AI spend] ${check.message.split(';')[0]}`;
    assert.deepEqual(to(url('discord', 'chat-plan')), [{
      content: title,
      embeds: [{ title, description: check.message, color: 0xF9AB00, fields: [], url: `${DASHBOARD}/?project=chat-plan` }],
      allowed_mentions: { parse: [] },
    }]);
    assert.deepEqual(to(url('slack', 'chat-plan')).map((m) => m.text), [title], 'Slack was tried');
    assert.ok(posts.every((p) => !p.url.includes('/chat-a') && !p.url.includes('/chat-b')), 'no other project hears of it');
    const log = (await admin('/api/admin/alerts?project_id=chat-plan')).json.alerts;
    const slack = log.find((a) => a.channel === 'slack');
    assert.deepEqual([slack.status, slack.error], ['failed', 'webhook answered HTTP 500']);
  } finally {
    down.clear();
  }
  // The next run posts to Slack alone: the email and Discord went out in this window already.
  posts.length = 0;
  const retry = await admin('/api/admin/usage/check-budgets', { method: 'POST' });
  assert.equal(retry.status, 200, retry.text);
  const again = retry.json.plans.find((p) => p.project_id === 'chat-plan');
  assert.deepEqual(again.alerts.map((a) => [a.channel, a.status]), [['email', 'rate_limited'], ['slack', 'sent'], ['discord', 'rate_limited']]);
  assert.deepEqual(posts.map((p) => p.url), [url('slack', 'chat-plan')]);
  const sent = (await admin('/api/admin/alerts?project_id=chat-plan')).json.alerts.filter((a) => a.status === 'sent');
  assert.deepEqual(sent.map((a) => a.channel).sort(), ['discord', 'email', 'slack'], 'each channel reached once');
});
