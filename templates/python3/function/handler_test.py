"""Runs in the image build: a failing test fails the build (TEST_ENABLED=false skips it)."""
import unittest

from .handler import handle


class HandleTest(unittest.TestCase):
    def test_greets_with_the_request(self):
        self.assertEqual(handle("hi"), "Hello from python3! You said: hi")


if __name__ == "__main__":
    unittest.main()
