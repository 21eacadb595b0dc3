"""``ChineseCangjieConverter`` as in chatterbox-tts 0.1.7: built by every multilingual tokenizer, whatever the
language, and its segmenter is ``spacy_pkuseg.pkuseg()``, which downloads its model on first use; only an
ImportError is caught."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


class ChineseCangjieConverter:
    def __init__(self, model_dir=None):
        self.segmenter = None
        self._init_segmenter()

    def _init_segmenter(self):
        try:
            from spacy_pkuseg import pkuseg

            self.segmenter = pkuseg()
        except ImportError:
            logger.warning("pkuseg not available - Chinese segmentation will be skipped")
            self.segmenter = None

    def __call__(self, text):
        if self.segmenter is not None:
            return " ".join(self.segmenter.cut(text))
        return text
