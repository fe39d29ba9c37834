package organizations

import "testing"

func TestValidBusinessID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"0737546-2", true},  // check digit from remainder 9: 11-9 = 2
		{"0201256-6", true},  // Helsinki
		{"1572860-0", true},  // remainder 0: check digit 0
		{"0737546-3", false}, // wrong check digit
		{"737546-2", false},  // six digits
		{"0737546/2", false},
		{"07375462", false},
		{"", false},
		{"0737546-22", false},
	}
	for _, tt := range tests {
		name := "refuses " + tt.id
		if tt.want {
			name = "accepts " + tt.id
		}
		t.Run(name, func(t *testing.T) {
			if got := ValidBusinessID(tt.id); got != tt.want {
				t.Fatalf("ValidBusinessID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestValidBusinessIDRefusesRemainderOne(t *testing.T) {
	// A weighted sum ≡ 1 (mod 11) is never issued: no check digit fits.
	for body := 0; body < 10_000_000; body += 7919 {
		s := []byte{}
		for i, d := 0, body; i < 7; i++ { // zero-padded seven digits
			s = append([]byte{byte('0' + d%10)}, s...)
			d /= 10
		}
		sum := 0
		for i, w := range []int{7, 9, 10, 5, 8, 4, 2} {
			sum += int(s[i]-'0') * w
		}
		if sum%11 != 1 {
			continue
		}
		for c := byte('0'); c <= '9'; c++ {
			if ValidBusinessID(string(s) + "-" + string(c)) {
				t.Fatalf("%s-%c accepted although its remainder is 1", s, c)
			}
		}
		return
	}
	t.Fatal("no body with remainder 1 found")
}
