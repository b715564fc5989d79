"""The candidate portal: invitations, uploads, the self-check and automatic grading.

An interviewer invites a candidate (``takehome invite`` or the web app); the candidate opens a
link holding an unguessable token, reads the assignment, downloads the public data and uploads a
submission. The upload is streamed to disk under the intake caps (:mod:`harness.portal.upload`),
ingested by the same safe intake as ``takehome grade``, self-checked on the public sample like
``takehome check`` (:mod:`harness.portal.jobs`), and, once marked final, graded by
``harness.batch.grade_batch`` into the same output folder and results store. Checks and grading
run in a worker process (:mod:`harness.portal.worker`) that picks jobs from a queue kept in the
store, so a server restart loses nothing.

Modules: ``store`` (SQLite tables next to the results), ``invitations`` (tokens, expiry,
revocation), ``upload`` (the streaming receiver), ``submissions`` (accept, replace, mark final),
``queue`` (jobs and leases), ``jobs`` (what a job does), ``worker`` (the process), ``routes``
(the candidate pages and the interviewers' invitation pages).
"""
