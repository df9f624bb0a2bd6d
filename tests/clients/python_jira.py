"""The PyPI `jira` client, unmodified, against jira-sim: the calls exports, syncs and
migrations make. Prints one line per call (`PASS name` or `FAIL name: why`) and exits
with the number of failures. Run by `tests/http/clients.rs`:

    python python_jira.py BASE_URL EMAIL TOKEN [API_VERSION]

API_VERSION is the client's `rest_api_version` (its default is 2; 3 is Jira Cloud's).
"""

import sys
import traceback

from jira import JIRA

base, email, token = sys.argv[1:4]
version = sys.argv[4] if len(sys.argv) > 4 else "2"
jira = JIRA(server=base, basic_auth=(email, token), options={"rest_api_version": version})

failures = 0
state = {}


def check(name):
    def wrap(fn):
        global failures
        try:
            fn()
            print(f"PASS {name}", flush=True)
        except Exception as error:  # a failed call is a finding, not a crash
            failures += 1
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            print(f"FAIL {name}: {detail[:400]}", flush=True)
        return fn

    return wrap


@check("projects")
def _():
    projects = jira.projects()
    assert len(projects) >= 2, projects
    state["project"] = projects[0].key


@check("project")
def _():
    project = jira.project(state["project"])
    assert project.key == state["project"]
    assert project.name


@check("fields")
def _():
    fields = jira.fields()
    names = {f["name"] for f in fields}
    assert "Summary" in names and "Status" in names, names


@check("issue_types")
def _():
    types = jira.issue_types()
    assert any(t.name == "Task" for t in types), types


@check("priorities")
def _():
    assert any(p.name == "Medium" for p in jira.priorities())


@check("statuses")
def _():
    assert any(s.name == "Done" for s in jira.statuses())


@check("resolutions")
def _():
    assert any(r.name == "Done" for r in jira.resolutions())


@check("project_components")
def _():
    components = jira.project_components(state["project"])
    assert len(components) >= 1 and components[0].name


@check("project_versions")
def _():
    versions = jira.project_versions(state["project"])
    assert len(versions) >= 1 and versions[0].name


@check("enhanced_search_issues")
def _():
    jql = f"project = {state['project']} ORDER BY key"
    issues = jira.enhanced_search_issues(jql, maxResults=False, fields="summary,status")
    assert len(issues) >= 30, len(issues)
    keys = [i.key for i in issues]
    assert len(set(keys)) == len(keys), "duplicates across pages"
    state["issue"] = keys[0]


@check("issue expand=changelog")
def _():
    issue = jira.issue(state["issue"], expand="changelog")
    assert issue.fields.summary
    histories = issue.changelog.histories
    assert isinstance(histories, list)


@check("comments")
def _():
    comments = jira.comments(state["issue"])
    assert isinstance(comments, list)


@check("add_comment")
def _():
    # v3 takes a comment body only as a document (Jira Cloud refuses text there: "Comment
    # body is not valid!"); the package passes what it is given as the body.
    text = "Checked by the python client"
    body = text if version == "2" else {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }
    comment = jira.add_comment(state["issue"], body)
    assert comment.id
    again = jira.comment(state["issue"], comment.id)
    assert again.id == comment.id


@check("transitions")
def _():
    transitions = jira.transitions(state["issue"])
    assert transitions, "no transitions"
    state["transition"] = transitions[0]


@check("transition_issue")
def _():
    before = jira.issue(state["issue"], fields="status").fields.status.name
    target = state["transition"]
    jira.transition_issue(state["issue"], target["id"])
    after = jira.issue(state["issue"], fields="status").fields.status.name
    assert after == target["to"]["name"], (before, after, target)


@check("worklogs")
def _():
    assert isinstance(jira.worklogs(state["issue"]), list)


@check("add_worklog")
def _():
    worklog = jira.add_worklog(state["issue"], timeSpent="1h", comment="Python client")
    assert worklog.id
    assert any(w.id == worklog.id for w in jira.worklogs(state["issue"]))


@check("search_users")
def _():
    users = jira.search_users(query="a")
    assert users, "no users"
    state["account"] = users[0].accountId


@check("user")
def _():
    user = jira.user(state["account"])
    assert user.accountId == state["account"]


@check("assign_issue")
def _():
    jira.assign_issue(state["issue"], state["account"])
    issue = jira.issue(state["issue"], fields="assignee")
    assert issue.fields.assignee.accountId == state["account"]


@check("create_issue")
def _():
    issue = jira.create_issue(
        project=state["project"], summary="Made by the python client", issuetype={"name": "Task"}
    )
    assert issue.key.startswith(state["project"] + "-")
    state["created"] = issue.key


@check("create_issues")
def _():
    results = jira.create_issues(
        [
            {"project": {"key": state["project"]}, "summary": f"Bulk {n}", "issuetype": {"name": "Task"}}
            for n in range(3)
        ]
    )
    assert all(r["status"] == "Success" for r in results), results


@check("update")
def _():
    issue = jira.issue(state["created"])
    issue.update(summary="Renamed by the python client")
    assert jira.issue(state["created"]).fields.summary == "Renamed by the python client"


@check("create_issue_link")
def _():
    jira.create_issue_link("Blocks", state["created"], state["issue"])
    links = jira.issue(state["created"], fields="issuelinks").fields.issuelinks
    assert links, "no link"


@check("add_attachment")
def _():
    import io

    content = bytes((i * 13) % 256 for i in range(200_000))
    attachment = jira.add_attachment(state["created"], attachment=io.BytesIO(content), filename="notes.bin")
    assert attachment.size == len(content), attachment.size
    state["attachment"] = attachment.id
    state["attachment_bytes"] = content


@check("attachment content and delete_attachment")
def _():
    attachment = jira.attachment(state["attachment"])
    assert attachment.filename == "notes.bin", attachment.filename
    assert attachment.get() == state["attachment_bytes"], "the downloaded bytes differ"
    jira.delete_attachment(state["attachment"])
    assert not jira.issue(state["created"], fields="attachment").fields.attachment


@check("delete")
def _():
    jira.issue(state["created"]).delete()
    try:
        jira.issue(state["created"])
    except Exception:
        return
    raise AssertionError("the deleted issue is still there")


sys.exit(failures)
