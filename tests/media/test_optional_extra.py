"""The core never needs the media extra: without it, media commands fail with a clear error."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_core_imports_and_media_fails_clearly_without_the_extra() -> None:
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"onnxruntime", "cv2", "av", "onnx"}:
                    raise ImportError("blocked " + name)
        sys.meta_path.insert(0, Block())
        import onshore, onshore.cli, onshore.media
        from onshore.media.anonymizer import MediaAnonymizer
        from onshore.errors import BadInput
        try:
            MediaAnonymizer().detectors
        except BadInput as exc:
            print("ERR", exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "ERR" in result.stdout and "pip install 'onshore[media]'" in result.stdout
