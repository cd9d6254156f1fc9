from __future__ import annotations

from onshore.media.classification import classify_media, guess_origin


def test_origin_is_guessed_from_the_path() -> None:
    assert guess_origin("fleet/cabin/2024/a.jpg") == "cabin"
    assert guess_origin("fleet/dms_cam/a.mp4") == "cabin"
    assert guess_origin("fleet/front/a.jpg") == "exterior"
    assert guess_origin("fleet/drivers-club/a.jpg") == "exterior"


def test_exterior_media_with_faces_is_important_and_clean_output_is_not(pack) -> None:  # type: ignore[no-untyped-def]
    hit = classify_media(pack, path="a.jpg", origin="exterior", kind="image", faces=2, plates=0)
    assert hit.level == "important"
    assert hit.reasons == ("cn-auto/important/exterior-media-face-plate",)
    clean = classify_media(pack, path="a.jpg", origin="exterior", kind="image", faces=0, plates=0)
    assert clean.level == "personal" and clean.reasons == ()
    unscreened = classify_media(
        pack, path="a.mp4", origin="exterior", kind="video", faces=None, plates=None
    )
    assert unscreened.level == "important"


def test_cabin_media_is_sensitive_personal(pack) -> None:  # type: ignore[no-untyped-def]
    for kind in ("image", "video", "audio"):
        label = classify_media(pack, path="x", origin="cabin", kind=kind, faces=0, plates=0)  # type: ignore[arg-type]
        assert label.level == "sensitive_personal"
        assert f"cabin.{kind}" in label.categories
