"""What the candidate's page is built from: Markdown rendered without raw HTML, public files only."""

from __future__ import annotations

from harness.assignment import load_assignment
from harness.portal.pages import markdown_file_html, public_files


def test_markdown_passes_no_raw_html_or_script_links(tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text("# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) "
                   "<img src=x onerror=alert(1)>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    html = markdown_file_html(doc)
    assert "<h1>Title</h1>" in html and "<table>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript:' not in html
    assert "&lt;script&gt;" in html


def test_only_the_public_folder_is_offered(tmp_path):
    assignment = load_assignment("fraud-detection")
    files = public_files(assignment)
    assert set(files) == {"train.csv", "sample_test_features.csv"}
    assert all(path.parent == assignment.public_dir for path in files.values())


def test_feedback_mode_shows_rubric_descriptors_only(tmp_path, monkeypatch):
    import dataclasses
    import time

    from fixtures.portal_samples import small_submission
    from fixtures.report_samples import make_result
    from test_portal_submissions import received

    from harness.portal import pages
    from harness.portal.invitations import create_invitation
    from harness.portal.queue import claim, finish
    from harness.portal.submissions import Portal, accept_upload, mark_final
    from harness.store import ResultKey, ResultStore

    portal = Portal(tmp_path / "round")
    invitation = create_invitation(portal.store, "fraud-detection", "Ada").invitation
    row = accept_upload(portal, invitation, received(portal, small_submission()))
    mark_final(portal, invitation)
    result = make_result("strong")
    ResultStore(portal.store.path).put(
        ResultKey(row.content_hash, "a", "r", "i", "h"), name="ada", status="graded",
        total=result.total, result_json=result.model_dump_json(), report_path=None)
    for kind in ("check", "grade"):
        job = claim(portal.store, "host:1", (kind,))
        finish(portal.store, job.id, "host:1", ok=True, outcome="graded")
    invitation = portal.store.invitation(invitation.id)

    assert pages.candidate_page(portal.store, invitation, 1000).feedback == []  # off by default
    real = pages.load_assignment("fraud-detection")
    spec = real.spec.model_copy(update={"candidate_feedback": "descriptors"})
    monkeypatch.setattr(pages, "load_assignment",
                        lambda _name: dataclasses.replace(real, spec=spec))
    feedback = pages.candidate_page(portal.store, invitation, 1000, now=time.time()).feedback
    graded = [c for c in result.rubric.criteria if c.graded and c.descriptor]
    assert feedback == [(c.title, c.descriptor) for c in graded] and feedback
    assert all(isinstance(t, str) and isinstance(d, str) for t, d in feedback)  # no numbers
    from harness.portal.web import TEMPLATES
    from harness.web.templating import make_environment

    page = pages.candidate_page(portal.store, invitation, 1000)
    html = make_environment([TEMPLATES]).get_template("portal/candidate.html.j2").render(
        page=page, base="/c/x", error=None, title="t", csrf_token="c")
    section = html[html.index('id="feedback"'):html.index("</section>", html.index('id="feedback"'))]
    assert graded[0].descriptor.split()[0] in section
    assert "lvl" not in section and "/ 100" not in html
