"""tools.sbomscore: peers' purl spellings of the same package match; what differs is missing or extra."""

from __future__ import annotations

from tools.sbomscore import identity, score

TRUTH = {
    "deb": [{"purl": "pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12"}],
    "pypi": [{"purl": "pkg:pypi/typing-extensions@4.12.2"}],
    "golang": [{"purl": "pkg:golang/stdlib@1.19.8"}, {"purl": "pkg:golang/mvdan.cc/sh/v3/cmd/shfmt"}],
    "npm": [{"purl": "pkg:npm/%40isaacs/string-locale-compare@1.1.0"}],
}


def test_spellings_of_one_package_match():
    trivy_epoch = "pkg:deb/debian/bsdutils@2.38.1-5%2Bdeb12u3?arch=amd64&epoch=1&distro=debian-12.10"
    assert identity(trivy_epoch) == identity(TRUTH["deb"][0]["purl"])
    assert identity("pkg:pypi/Typing_Extensions@4.12.2") == identity("pkg:pypi/typing-extensions@4.12.2")
    assert (
        identity("pkg:golang/stdlib@v1.19.8")
        == identity("pkg:golang/stdlib@go1.19.8")
        == identity("pkg:golang/stdlib@1.19.8")
    )
    assert identity("not a purl") is None


def test_missing_extra_and_nested_components():
    doc = {
        "components": [
            {"purl": "pkg:deb/debian/bsdutils@2.38.1-5%2Bdeb12u3?epoch=1", "components": [{"purl": "pkg:npm/x@1"}]},
            {"purl": "pkg:pypi/typing-extensions@4.12.2"},
            {"purl": "pkg:golang/stdlib@go1.19.8"},
            {"purl": "pkg:golang/mvdan.cc/sh/v3@v3.6.0"},
            {"name": "debian", "type": "operating-system"},
        ]
    }
    scores = score(TRUTH, doc)
    assert (scores["deb"].recall, scores["deb"].precision) == (1.0, 1.0)
    assert scores["golang"].missing == ("/mvdan.cc/sh/v3/cmd/shfmt/",)
    assert scores["golang"].extra == ("/mvdan.cc/sh/v3/v3.6.0",) and scores["golang"].precision == 0.5
    assert scores["npm"].missing == ("@isaacs/string-locale-compare/1.1.0",) and scores["npm"].extra == ("/x/1",)
    assert scores["maven"].recall == scores["maven"].precision == 1.0 and scores["maven"].expected == 0
