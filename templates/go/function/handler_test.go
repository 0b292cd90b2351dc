package function

// Runs in the image build (go test ./...): a failing test fails the build
// (--build-arg TEST_ENABLED=false skips it).

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandleAnswersWithTheBody(t *testing.T) {
	request := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("hi"))
	recorder := httptest.NewRecorder()

	Handle(recorder, request)

	response := recorder.Result()
	body, _ := io.ReadAll(response.Body)
	if response.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200", response.StatusCode)
	}
	if got, want := string(body), "Hello from go! You said: hi"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}
