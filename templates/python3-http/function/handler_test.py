"""Runs in the image build: a failing test fails the build (TEST_ENABLED=false skips it)."""
import unittest
from types import SimpleNamespace

from .handler import handle


def event(body=b"", method="POST"):
    return SimpleNamespace(body=body, headers={}, method=method, query={}, path="/")


class HandleTest(unittest.TestCase):
    def test_answers_with_the_body(self):
        context = SimpleNamespace(hostname="test")
        self.assertEqual(handle(event(b"hi"), context), "Hello from python3-http! You said: hi")

    def test_empty_body(self):
        context = SimpleNamespace(hostname="test")
        self.assertEqual(handle(event(method="GET"), context), "Hello from python3-http! You said: ")


if __name__ == "__main__":
    unittest.main()
