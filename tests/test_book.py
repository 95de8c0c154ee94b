from IPython.core.interactiveshell import InteractiveShell

from helpers import glue


def test_glue_stores_rounded_numbers_for_the_prose(monkeypatch):
    shown = []
    publisher = InteractiveShell.instance().display_pub
    monkeypatch.setattr(publisher, "publish", lambda data, metadata=None, **kw: shown.append((data, metadata)))
    glue("a", 0.123456)
    glue("b", 1.660882e-06, significant=2)
    glue("c", 7)
    texts = [data["application/papermill.record/text/plain"] for data, _ in shown]
    assert texts == ["0.123", "1.7e-06", "7"]
    assert [meta["scrapbook"]["name"] for _, meta in shown] == ["a", "b", "c"]


def test_glue_stores_exactly_what_myst_nb_glue_stores(monkeypatch):
    from myst_nb import glue as myst_glue

    shown = []
    publisher = InteractiveShell.instance().display_pub
    monkeypatch.setattr(publisher, "publish", lambda data, metadata=None, **kw: shown.append((data, metadata)))
    for name, value in [("a", 0.123), ("b", 7), ("c", "0.47 to 0.81"), ("d", -2.5), ("e", True)]:
        glue(name, value)
        myst_glue(name, value, display=False)
    assert len(shown) == 10
    for ours, theirs in zip(shown[::2], shown[1::2]):
        assert ours == theirs
