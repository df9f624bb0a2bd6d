// The npm `jira.js` client (6.x, which validates every answer against its own schemas),
// unmodified, against jira-sim: the calls exports, syncs and migrations make. Prints one
// line per call (`PASS name` or `FAIL name: why`) and exits with the number of failures.
// Run by `tests/http/clients.rs`:
//
//     node jira_js.mjs BASE_URL EMAIL TOKEN
import { createCloudClient } from 'jira.js';

const [base, email, apiToken] = process.argv.slice(2);
// An answer its schemas do not describe fails the call, not a warning.
const jira = createCloudClient({ host: base, auth: { type: 'basic', email, apiToken }, onSchemaMismatch: 'throw' });
const state = {};
let failures = 0;

async function check(name, fn) {
  try {
    await fn();
    console.log(`PASS ${name}`);
  } catch (error) {
    failures += 1;
    const detail = (error && (error.stack || error.message || String(error))) || 'unknown';
    console.log(`FAIL ${name}: ${detail.replace(/\s+/g, ' ').slice(0, 600)}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

const doc = (text) => ({ type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text }] }] });

await check('searchProjects', async () => {
  const page = await jira.projects.searchProjects({});
  assert(page.values.length >= 2, 'projects');
  state.project = page.values[0].key;
});
await check('getProject', async () => {
  const project = await jira.projects.getProject({ projectIdOrKey: state.project });
  assert(project.key === state.project, 'key');
});
await check('getFields', async () => {
  const fields = await jira.issueFields.getFields();
  assert(fields.some((f) => f.name === 'Summary'), 'summary field');
});
await check('getFieldsPaginated', async () => {
  const page = await jira.issueFields.getFieldsPaginated({ maxResults: 5 });
  assert(page.values.length === 5, 'five fields');
});
await check('getIssueAllTypes', async () => {
  const types = await jira.issueTypes.getIssueAllTypes();
  assert(types.some((t) => t.name === 'Task'), 'Task');
});
await check('searchPriorities', async () => {
  const page = await jira.issuePriorities.searchPriorities({});
  assert(page.values.some((p) => p.name === 'Medium'), 'Medium');
});
await check('getStatuses', async () => {
  const statuses = await jira.workflowStatuses.getStatuses();
  assert(statuses.some((s) => s.name === 'Done'), 'Done');
});
await check('getProjectComponents', async () => {
  const components = await jira.projectComponents.getProjectComponents({ projectIdOrKey: state.project });
  assert(components.length >= 1, 'components');
});
await check('getProjectVersions', async () => {
  const versions = await jira.projectVersions.getProjectVersions({ projectIdOrKey: state.project });
  assert(versions.length >= 1, 'versions');
});
await check('searchAndReconsileIssuesUsingJqlPost (every page)', async () => {
  const keys = [];
  let nextPageToken;
  do {
    const page = await jira.issueSearch.searchAndReconsileIssuesUsingJqlPost({
      jql: `project = ${state.project} ORDER BY key`, fields: ['summary', 'status'], maxResults: 7, nextPageToken,
    });
    keys.push(...page.issues.map((i) => i.key));
    nextPageToken = page.nextPageToken;
  } while (nextPageToken);
  assert(keys.length >= 30 && new Set(keys).size === keys.length, `${keys.length} keys without duplicates`);
  state.issue = keys[0];
  state.keys = keys.slice(0, 20);
});
await check('getIssue expand=changelog', async () => {
  const issue = await jira.issues.getIssue({ issueIdOrKey: state.issue, expand: 'changelog' });
  assert(issue.fields.summary, 'summary');
  assert(Array.isArray(issue.changelog.histories), 'histories');
});
await check('getChangeLogs', async () => {
  const page = await jira.issues.getChangeLogs({ issueIdOrKey: state.issue });
  assert(Array.isArray(page.values), 'values');
});
await check('getBulkChangelogs', async () => {
  const page = await jira.issues.getBulkChangelogs({ issueIdsOrKeys: state.keys, maxResults: 1000 });
  assert(Array.isArray(page.issueChangeLogs), 'issueChangeLogs');
});
await check('bulkFetchIssues', async () => {
  const page = await jira.issues.bulkFetchIssues({ issueIdsOrKeys: [...state.keys, 'NOPE-1'], fields: ['summary'] });
  assert(page.issues.length === state.keys.length, 'issues');
  assert(page.issueErrors.length === 1, 'the missing one');
});
await check('getComments', async () => {
  const page = await jira.issueComments.getComments({ issueIdOrKey: state.issue });
  assert(Array.isArray(page.comments), 'comments');
});
await check('addComment', async () => {
  const comment = await jira.issueComments.addComment({ issueIdOrKey: state.issue, body: doc('From jira.js') });
  const again = await jira.issueComments.getComment({ issueIdOrKey: state.issue, id: comment.id });
  assert(again.id === comment.id, 'read back');
});
await check('getTransitions', async () => {
  const page = await jira.issues.getTransitions({ issueIdOrKey: state.issue });
  assert(page.transitions.length >= 1, 'transitions');
  state.transition = page.transitions.find((t) => !t.hasScreen) || page.transitions[0];
});
await check('doTransition', async () => {
  await jira.issues.doTransition({ issueIdOrKey: state.issue, transition: { id: state.transition.id } });
  const issue = await jira.issues.getIssue({ issueIdOrKey: state.issue, fields: ['status'] });
  assert(issue.fields.status.name === state.transition.to.name, 'status moved');
});
await check('getIssueWorklog', async () => {
  const page = await jira.issueWorklogs.getIssueWorklog({ issueIdOrKey: state.issue });
  assert(Array.isArray(page.worklogs), 'worklogs');
});
await check('addWorklog', async () => {
  const worklog = await jira.issueWorklogs.addWorklog({ issueIdOrKey: state.issue, timeSpentSeconds: 3600, comment: doc('jira.js') });
  assert(worklog.id, 'id');
});
await check('findUsers', async () => {
  const users = await jira.userSearch.findUsers({ query: 'a' });
  assert(users.length >= 1, 'users');
  state.account = users[0].accountId;
});
await check('getUser', async () => {
  const user = await jira.users.getUser({ accountId: state.account });
  assert(user.accountId === state.account, 'same user');
});
await check('assignIssue', async () => {
  await jira.issues.assignIssue({ issueIdOrKey: state.issue, accountId: state.account });
  const issue = await jira.issues.getIssue({ issueIdOrKey: state.issue, fields: ['assignee'] });
  assert(issue.fields.assignee.accountId === state.account, 'assigned');
});
await check('createIssue', async () => {
  const created = await jira.issues.createIssue({ fields: { project: { key: state.project }, issuetype: { name: 'Task' }, summary: 'From jira.js' } });
  assert(created.key.startsWith(`${state.project}-`), 'key');
  state.created = created.key;
});
await check('createIssues', async () => {
  const result = await jira.issues.createIssues({
    issueUpdates: [0, 1, 2].map((n) => ({ fields: { project: { key: state.project }, issuetype: { name: 'Task' }, summary: `Bulk ${n}` } })),
  });
  assert(result.issues.length === 3 && result.errors.length === 0, 'three created');
});
await check('editIssue', async () => {
  await jira.issues.editIssue({ issueIdOrKey: state.created, fields: { summary: 'Renamed by jira.js' } });
  const issue = await jira.issues.getIssue({ issueIdOrKey: state.created, fields: ['summary'] });
  assert(issue.fields.summary === 'Renamed by jira.js', 'renamed');
});
await check('linkIssues', async () => {
  await jira.issueLinks.linkIssues({ type: { name: 'Blocks' }, inwardIssue: { key: state.created }, outwardIssue: { key: state.issue } });
  const issue = await jira.issues.getIssue({ issueIdOrKey: state.created, fields: ['issuelinks'] });
  assert(issue.fields.issuelinks.length === 1, 'linked');
});
await check('addAttachment', async () => {
  const content = Uint8Array.from({ length: 150000 }, (_, i) => (i * 11) % 256);
  const added = await jira.issueAttachments.addAttachment({ issueIdOrKey: state.created, attachments: { filename: 'notes.bin', content } });
  assert(added.length === 1 && added[0].size === content.length, 'one attachment of its size');
  state.attachment = added[0].id;
  state.attachmentBytes = content;
});
await check('getAttachmentContent and removeAttachment', async () => {
  const meta = await jira.issueAttachments.getAttachment({ id: state.attachment });
  assert(meta.filename === 'notes.bin', 'filename');
  const bytes = new Uint8Array(await jira.issueAttachments.getAttachmentContent({ id: state.attachment }));
  assert(bytes.length === state.attachmentBytes.length && bytes.every((b, i) => b === state.attachmentBytes[i]), 'the same bytes');
  await jira.issueAttachments.removeAttachment({ id: state.attachment });
  const issue = await jira.issues.getIssue({ issueIdOrKey: state.created, fields: ['attachment'] });
  assert(issue.fields.attachment.length === 0, 'removed');
});
await check('deleteIssue', async () => {
  await jira.issues.deleteIssue({ issueIdOrKey: state.created });
  try {
    await jira.issues.getIssue({ issueIdOrKey: state.created });
  } catch {
    return;
  }
  throw new Error('the deleted issue is still there');
});

process.exit(failures);
