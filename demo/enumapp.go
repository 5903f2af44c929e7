package demo

import (
	"net/http"

	"github.com/enumgate/enumgate/enumapp"
)

// AppURL is where the demo serves the E-num web app: on the demo app's
// origin, not the gateway's (see package enumapp on why the app needs an
// origin of its own).
const AppURL = "http://localhost:9080/app/"

// enumApp serves the E-num web app under /app.
var enumApp = enumapp.New("/app")

// serveEnumApp serves GET /app and everything under /app/.
func (a *App) serveEnumApp(w http.ResponseWriter, r *http.Request) error {
	enumApp.ServeHTTP(w, r)
	return nil
}
