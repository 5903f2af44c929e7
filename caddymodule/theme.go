package caddymodule

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// checkColor accepts #rgb and #rrggbb colours on which white text (and
// which as text on white) has a contrast ratio of at least 4.5:1.
func checkColor(c string) error {
	if !hexColor.MatchString(c) {
		return fmt.Errorf("%q is not a hex colour like #0b5cad", c)
	}
	if r := contrast(c, "#ffffff"); r < 4.5 {
		return fmt.Errorf("%s has a contrast ratio of %.1f:1 with white; choose a darker colour (at least 4.5:1)", c, r)
	}
	return nil
}

// contrast returns the WCAG 2 contrast ratio of two hex colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// luminance returns the WCAG 2 relative luminance of a hex colour.
func luminance(c string) float64 {
	h := strings.TrimPrefix(c, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	lin := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		x := float64(v) / 255
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(h[0:2]) + 0.7152*lin(h[2:4]) + 0.0722*lin(h[4:6])
}

// themeCSS is the stylesheet that carries the operator's colours, served
// as a file so that the page's CSP needs no inline style.
func themeCSS(primary, accent string) string {
	return fmt.Sprintf(":root {\n\t--eg-primary: %s;\n\t--eg-accent: %s;\n}\n", strings.ToLower(primary), strings.ToLower(accent))
}
