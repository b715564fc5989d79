"""`takehome screen`: static grading without an assignment, task context inferred per submission."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.task_inference import NO_HELDOUT_REASON, infer_task

TRAIN_SCRIPT = """\
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

df = pd.read_csv("data/customers.csv")
X = df.drop(columns=["churned", "customer_id"])
y = df["churned"]
X_tr, X_te, y_tr, y_te = train_test_split(X, y, stratify=y, random_state=0)
model = RandomForestClassifier(class_weight="balanced").fit(X_tr, y_tr)
print(roc_auc_score(y_te, model.predict_proba(X_te)[:, 1]))
"""


def write_repo(root: Path, positives: int = 3, rows: int = 20) -> Path:
    """A tiny public ML repository: a training script, a small csv with the target, a README."""
    (root / "data").mkdir(parents=True)
    (root / "train.py").write_text(TRAIN_SCRIPT)
    lines = ["customer_id,tenure,churned"]
    lines += [f"{i},{i % 7},{1 if i < positives else 0}" for i in range(rows)]
    (root / "data" / "customers.csv").write_text("\n".join(lines) + "\n")
    (root / "README.md").write_text("# Churn model\n\nPredicts which customers churn.\n")
    return root


def code_repo(root: Path, code: str, readme: str = "") -> Path:
    """A repository with one script and an optional README (no data)."""
    root.mkdir(parents=True)
    (root / "model.py").write_text(code)
    if readme:
        (root / "README.md").write_text(readme)
    return root


# --------------------------------------------------------------------------- end to end


def test_screen_cli_grades_a_repository_with_an_inferred_task(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "candidate")
    out, js = tmp_path / "out", tmp_path / "result.json"
    run = CliRunner().invoke(main, ["screen", str(repo), "-o", str(out), "--json", str(js),
                                    "--force"])
    assert run.exit_code == 0, run.output
    for name in ("index.html", "summary.csv", "results.sqlite"):
        assert (out / name).is_file()
    for name in ("report.html", "result.json", "summary.md"):
        assert (out / "candidate" / name).is_file()
    result = json.loads(js.read_text())
    assert result["status"] == "graded" and result["run"]["mode"] == "static"
    assert result["assignment"]["slug"] == "screen"
    context = result["assignment"]["task_context"]
    assert context["inferred"] is True
    assert context["target"] == "churned"
    assert context["task_type"] == "binary_classification"
    assert context["class_shares"] == {"0": 0.85, "1": 0.15}
    assert context["positive_class"] == 1 and context["id_column"] == "customer_id"
    assert context["data_file"] == "data/customers.csv"
    target_evidence = [e for e in context["evidence"] if e["field"] == "target"]
    assert target_evidence[0]["path"] == "train.py" and target_evidence[0]["line"]
    heldout = {c["id"]: c for c in result["rubric"]["criteria"]}["heldout"]
    assert heldout["level"] is None and NO_HELDOUT_REASON in heldout["note"]
    html = (out / "candidate" / "report.html").read_text()
    assert "Task context (inferred)" in html and "churned" in html
    assert "Task context (inferred)" in (out / "candidate" / "summary.md").read_text()


def test_screen_help_exits_zero() -> None:
    assert CliRunner().invoke(main, ["screen", "--help"]).exit_code == 0


def test_screen_folder_of_submissions_infers_each_task(tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    write_repo(batch / "alice")
    code_repo(batch / "bob", "from sklearn.linear_model import Ridge\n"
                             "from sklearn.metrics import mean_squared_error\n"
                             "y = houses['price']\nRidge().fit(X, y)\n"
                             "print(mean_squared_error(y, y))\n")
    out = tmp_path / "out"
    js = tmp_path / "all.json"
    run = CliRunner().invoke(main, ["screen", str(batch), "-o", str(out), "--json", str(js)])
    assert run.exit_code == 0, run.output
    results = {r["submission"]["name"]: r for r in json.loads(js.read_text())}
    assert results["alice"]["assignment"]["task_context"]["target"] == "churned"
    bob = results["bob"]["assignment"]["task_context"]
    assert bob["target"] == "price" and bob["task_type"] == "regression"
    assert (out / "alice" / "report.html").is_file() and (out / "bob" / "report.html").is_file()
    assert len((out / "summary.csv").read_text().strip().splitlines()) == 3


def test_inferred_context_is_part_of_the_store_key(tmp_path: Path) -> None:
    """Same files, different inference (a new data file): the stored result is not reused."""
    repo = write_repo(tmp_path / "candidate")
    first = infer_task(repo)
    (repo / "data" / "customers.csv").write_text("customer_id,churned\n1,0\n2,1\n3,1\n")
    assert infer_task(repo).content_hash() != first.content_hash()
    assert infer_task(repo).content_hash() == infer_task(repo).content_hash()


def test_screen_is_deterministic(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "candidate")
    levels = []
    for index in range(2):
        js = tmp_path / f"r{index}.json"
        run = CliRunner().invoke(main, ["screen", str(repo), "-o", str(tmp_path / f"o{index}"),
                                        "--json", str(js), "--force"])
        assert run.exit_code == 0, run.output
        result = json.loads(js.read_text())
        levels.append({c["id"]: c["level"] for c in result["rubric"]["criteria"]})
    assert levels[0] == levels[1]
    again = CliRunner().invoke(main, ["screen", str(repo), "-o", str(tmp_path / "o0")])
    assert again.exit_code == 0 and "cached" in again.output  # same files, same inference


# --------------------------------------------------------------------------- target


@pytest.mark.parametrize(("code", "target"), [
    ("y = df['Outcome']\n", "Outcome"),
    ("X, y = df.drop('label_col', axis=1), df['label_col']\n", "label_col"),
    ("X = df.drop(columns=['Exited'])\nmodel.fit(X, df['Exited'])\n", "Exited"),
    ("a, b, c, d = train_test_split(X, df['is_bad'], test_size=0.2)\n", "is_bad"),
    ("parts = train_test_split(X, yy, stratify=df['segment'])\n", "segment"),
    ("TARGET = 'SalePrice'\ny_train = train[TARGET].values\n", "SalePrice"),
    ("y = df.pop('default')\n", "default"),
    (("def split(df, target_col):\n    return df.drop(columns=[target_col]), df[target_col]\n"
      "X, y = split(frame, 'converted')\n"), "converted"),
    ("pipeline = build(data, target_column='approved')\n", "approved"),
])
def test_target_from_code_shapes(tmp_path: Path, code: str, target: str) -> None:
    assert infer_task(code_repo(tmp_path / "r", code)).spec.target == target


def test_target_from_a_config_file(tmp_path: Path) -> None:
    repo = code_repo(tmp_path / "r", "import yaml\n")
    (repo / "config.yaml").write_text("data:\n  target_col: \"Outcome\"   # the label\n")
    task = infer_task(repo)
    assert task.spec.target == "Outcome"
    assert task.evidence[0].source == "config" and task.evidence[0].path == "config.yaml"


def test_target_from_the_readme(tmp_path: Path) -> None:
    repo = code_repo(tmp_path / "r", "import pandas\n",
                     readme="# Loans\n\nThe target variable is `repaid_early`.\n")
    assert infer_task(repo).spec.target == "repaid_early"


def test_split_variable_keys_are_not_targets(tmp_path: Path) -> None:
    code = ("data = load()\nmodel.fit(data['x_train'], data['y_train'])\n"
            "y = raw['isFraud']\n")
    assert infer_task(code_repo(tmp_path / "r", code)).spec.target == "isFraud"


def test_a_script_with_one_broken_block_still_names_its_target(tmp_path: Path) -> None:
    code = "import pandas as pd\n\nget_ipython().system('ls')\n\n%matplotlib inline\n\n" \
           "y = df['churn']\n"
    assert infer_task(code_repo(tmp_path / "r", code)).spec.target == "churn"


def test_nothing_inferable_stays_none(tmp_path: Path) -> None:
    task = infer_task(code_repo(tmp_path / "r", "print('hello')\n", readme="# Hello\n"))
    assert task.spec.target is None and task.spec.task_type is None
    assert task.train_csv is None and task.stated_minority_share is None
    assert task.spec.positive_class is None and task.spec.classes is None
    assert any(n.startswith("target") for n in task.not_judged)
    assert any(n.startswith("task type") for n in task.not_judged)


# --------------------------------------------------------------------------- task type


def test_classifier_means_classification(tmp_path: Path) -> None:
    code = "from sklearn.linear_model import LogisticRegression\ny = df['c']\n" \
           "LogisticRegression().fit(X, y)\n"
    assert infer_task(code_repo(tmp_path / "r", code)).spec.task_type == "binary_classification"


def test_regressor_and_error_metrics_mean_regression(tmp_path: Path) -> None:
    code = "from xgboost import XGBRegressor\nfrom sklearn.metrics import r2_score\n" \
           "y = df['price']\nm = XGBRegressor().fit(X, y)\nprint(r2_score(y, m.predict(X)))\n"
    assert infer_task(code_repo(tmp_path / "r", code)).spec.task_type == "regression"


def test_averaged_metrics_alone_do_not_make_a_task_multiclass(tmp_path: Path) -> None:
    code = "from sklearn.metrics import f1_score\ny = df['click']\n" \
           "RandomForestClassifier().fit(X, y)\n" + \
           "".join(f"f1_score(y, p, average='{a}')\n" for a in ("macro", "micro", "weighted") * 3)
    task = infer_task(code_repo(tmp_path / "r", code))
    assert task.spec.task_type == "binary_classification"


def test_averaged_metrics_break_a_tie_of_arity_signals(tmp_path: Path) -> None:
    code = "y = df['species']\nclf = LogisticRegression(multi_class='ovr').fit(X, y)\n" \
           "p = clf.predict_proba(X)[:, 1]\nf1_score(y, p, average='macro')\n"
    task = infer_task(code_repo(tmp_path / "r", code))
    assert task.spec.task_type == "multiclass_classification"


def test_continuous_target_next_to_regression_signals_is_regression(tmp_path: Path) -> None:
    code = ("from lightgbm import LGBMClassifier\n"
            "def rmspe(y_true, y_pred):\n    return ((y_true - y_pred) / y_true) ** 2\n\n"
            "def fit_categories(X, y):\n    m = LGBMClassifier().fit(X, y)\n"
            "    return f1_score(y, m.predict(X), average='micro'), accuracy_score(y, y)\n\n"
            "def main():\n    Y = df['amount_sum']\n    p = train_booster(df, Y)\n"
            "    print(rmspe(Y, p), rmspe(y_test, train_booster(df, Y).predict(X)))\n")
    task = infer_task(code_repo(tmp_path / "r", code))
    assert task.spec.target == "amount_sum"
    assert task.spec.task_type == "regression"


def test_data_with_three_labels_means_multiclass(tmp_path: Path) -> None:
    repo = code_repo(tmp_path / "r", "y = df['kind']\nRandomForestClassifier().fit(X, y)\n")
    (repo / "train.csv").write_text("kind,x\n" + "".join(f"{'abc'[i % 3]},{i}\n"
                                                         for i in range(30)))
    task = infer_task(repo)
    assert task.spec.task_type == "multiclass_classification"
    assert task.spec.classes == ["a", "b", "c"] and task.spec.positive_class is None


# --------------------------------------------------------------------------- class shares


def test_share_from_data_points_train_csv_at_the_file(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "r", positives=2, rows=40)
    task = infer_task(repo)
    assert task.train_csv == repo / "data" / "customers.csv"
    assert task.class_shares == {"0": 0.95, "1": 0.05}
    assert task.stated_minority_share is None


def test_share_stated_in_the_readme(tmp_path: Path) -> None:
    readme = ("# Fraud\n\nThe data is highly imbalanced: only 1.6% of transactions are "
              "fraud, so accuracy is misleading.\n")
    code = "y = df['is_fraud']\nLogisticRegression().fit(X, y)\n"
    task = infer_task(code_repo(tmp_path / "r", code, readme=readme.replace(
        ", so accuracy is misleading", "")))
    assert task.stated_minority_share == pytest.approx(0.016)
    assert task.train_csv is None
    evidence = next(e for e in task.evidence if e.field == "stated_minority_share")
    assert evidence.source == "text" and evidence.path == "README.md"


@pytest.mark.parametrize(("sentence", "share"), [
    ("The dataset has ~14% churners (about 6 to 1).", 0.14),
    ("Churned customers are under-represented (~2%) in the data.", 0.02),
    ("Only 11.3% of clients did leave.", 0.113),
    (("Findings:\n 1. There is 77% of 'No' and 23% of 'Yes', an imbalance of classes\n"
     " 2. We used SMOTE (over-sampling) to treat it"), 0.23),
])
def test_balance_sentences_give_the_stated_share(tmp_path: Path, sentence: str,
                                                 share: float) -> None:
    code = "y = df['churned']\nLogisticRegression().fit(X, y)\n"
    task = infer_task(code_repo(tmp_path / "r", code, readme=f"# Churn\n\n{sentence}\n"))
    assert task.stated_minority_share == pytest.approx(share)


@pytest.mark.parametrize("sentence", [
    "Our model reaches 12% higher recall than the baseline on an imbalanced set.",
    "Customers paying more churn at a rate of 34%.",
    "I sample 7.5% of the non-churn cases to balance the minority class.",
    "About 20% of the rows have missing values in the income column.",
    "We kept a 20% test split.",
    "The false positive rate is 4.2%.",
])
def test_percentages_that_are_not_class_shares_are_ignored(tmp_path: Path, sentence: str) -> None:
    code = "y = df['churn']\nLogisticRegression().fit(X, y)\n"
    task = infer_task(code_repo(tmp_path / "r", code, readme=f"# Churn\n\n{sentence}\n"))
    assert task.stated_minority_share is None


def test_share_printed_by_value_counts_in_a_notebook(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {},
            "source": "df['Churn'].value_counts(normalize=True)",
            "outputs": [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                         "data": {"text/plain": "Churn\nNo     0.73\nYes    0.27\n"
                                                "Name: proportion, dtype: float64"}}]}
    fit = {"cell_type": "code", "execution_count": 2, "metadata": {}, "outputs": [],
           "source": "y = df['Churn']\nLogisticRegression().fit(X, y)"}
    notebook = {"cells": [cell, fit], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    (repo / "analysis.ipynb").write_text(json.dumps(notebook))
    task = infer_task(repo)
    assert task.spec.target == "Churn"
    assert task.stated_minority_share == pytest.approx(0.27)
    assert task.spec.task_type == "binary_classification"


# --------------------------------------------------------------------------- hostile input


def test_huge_csv_and_binary_junk_stay_capped(tmp_path: Path) -> None:
    repo = code_repo(tmp_path / "r", "y = df['label']\nLogisticRegression().fit(X, y)\n")
    huge = repo / "big.csv"
    with open(huge, "wb") as handle:
        handle.write(b"label,x\n")
        handle.truncate(60_000_000)  # sparse: 60 MB of NULs after the header
    (repo / "junk.csv").write_bytes(os.urandom(4096))
    (repo / "junk.yaml").write_bytes(b"\x00\xff" * 2048)
    (repo / "weird.ipynb").write_bytes(b"\x89PNG\r\n" + os.urandom(2048))
    task = infer_task(repo)
    assert task.spec.target == "label"
    assert task.train_csv is None and task.class_shares is None


def test_screen_survives_hostile_files(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "candidate")
    (repo / "broken.ipynb").write_bytes(b'{"cells": [')
    (repo / "blob.csv").write_bytes(os.urandom(8192))
    js = tmp_path / "r.json"
    run = CliRunner().invoke(main, ["screen", str(repo), "-o", str(tmp_path / "out"),
                                    "--json", str(js)])
    assert run.exit_code == 0, run.output
    result = json.loads(js.read_text())
    assert result["status"] == "graded"
    assert result["assignment"]["task_context"]["target"] == "churned"
    assert any(f["id"] == "intake.unreadable_notebook" for f in result["red_flags"])


# --------------------------------------------------------------------------- target forms


def test_attribute_access_names_the_target(tmp_path: Path) -> None:
    code = "labels_all = 1\nall_labels = df.booked\nX = df.drop('booked', axis=1)\n" \
           "LogisticRegression().fit(X, all_labels)\n"
    assert infer_task(code_repo(tmp_path / "a", code)).spec.target == "booked"
    code = "y = frame.outcome.values\nmodel = np.array(frame.x)\nLogisticRegression().fit(X, y)\n"
    assert infer_task(code_repo(tmp_path / "b", code)).spec.target == "outcome"


def test_attribute_access_ignores_frame_attributes_and_fitted_attributes(tmp_path: Path) -> None:
    code = "y = df.values\nlabels = km.labels_\ntarget = self.target\n"
    assert infer_task(code_repo(tmp_path / "r", code)).spec.target is None


def test_one_element_list_target_name(tmp_path: Path) -> None:
    code = "target_col = ['defaulted']\ny_train = train_df[target_col].values.ravel()\n" \
           "LogisticRegression().fit(X, y_train)\n"
    assert infer_task(code_repo(tmp_path / "r", code)).spec.target == "defaulted"


def test_target_default_of_a_function_parameter(tmp_path: Path) -> None:
    code = "class Job:\n    def __init__(self, path, output_column=['rings']):\n" \
           "        self.output_column = output_column\n" \
           "XGBRegressor().fit(X, y)\nmean_squared_error(a, b)\n"
    task = infer_task(code_repo(tmp_path / "r", code))
    assert task.spec.target == "rings" and task.spec.task_type == "regression"


def test_test_modules_do_not_vote_for_the_target(tmp_path: Path) -> None:
    repo = code_repo(tmp_path / "r", "y = df['churned']\nLogisticRegression().fit(X, y)\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_split.py").write_text(
        "target_col = 'fake'\ny = frame['fake']\nX = frame.drop(columns=['fake'])\n"
        "train_test_split(X, frame['fake'], stratify=frame['fake'])\n")
    assert infer_task(repo).spec.target == "churned"


def test_response_key_of_a_config_file(tmp_path: Path) -> None:
    repo = code_repo(tmp_path / "r", "LogisticRegression().fit(X, y)\n")
    (repo / "config.yaml").write_text('data: "data/bank.csv"\nresponse: "Churn"\n')
    assert infer_task(repo).spec.target == "Churn"


def test_plot_y_and_estimator_attributes_do_not_name_the_target(tmp_path: Path) -> None:
    code = "y = df['churned']\nLogisticRegression().fit(X, y)\n" \
           "go.Bar(x=t, y=df['hourly_count'])\nsns.barplot(y=df['rate'])\n" \
           "labels = indexer_model.labels\ntarget = SETTINGS.target_column\n"
    task = infer_task(code_repo(tmp_path / "r", code))
    assert task.spec.target == "churned"
    assert not any(n.startswith("second task") for n in task.not_judged)


def test_a_second_modelled_target_is_reported(tmp_path: Path) -> None:
    code = ("def main():\n"
            "    y = df['spend']\n    m = XGBRegressor().fit(X, y)\n"
            "    print(mean_squared_error(y, m.predict(X)))\n" + "\n" * 30 +
            "    y = df['segment']\n    c = RandomForestClassifier().fit(X, y)\n"
            "    print(accuracy_score(y, c.predict(X)), f1_score(y, c.predict(X)))\n")
    task = infer_task(code_repo(tmp_path / "r", code))
    assert task.spec.target == "spend" and task.spec.task_type == "regression"
    other = [e for e in task.evidence if e.field == "other_task"]
    assert [e.value for e in other] == ["segment (binary classification)"]
    assert any("second task" in n and "segment" in n for n in task.not_judged)
    assert task.inferred_context()["not_judged"]


def test_screen_cli_grades_a_submission_without_any_data_file(tmp_path: Path) -> None:
    """No CSV in the submission: no data file to size, count or read, still a graded report."""
    repo = tmp_path / "notebook-only"
    repo.mkdir()
    (repo / "README.md").write_text("# Churn\n\nI trained a model on the churn data.\n")
    (repo / "model.py").write_text("import pandas as pd\n\ndf = pd.read_csv('missing.csv')\n")
    out, js = tmp_path / "out", tmp_path / "result.json"
    run = CliRunner().invoke(main, ["screen", str(repo), "-o", str(out), "--json", str(js)])
    assert run.exit_code == 0, run.output
    result = json.loads(js.read_text())
    assert result["status"] == "graded"
    assert result["assignment"]["task_context"]["data_file"] is None
