package privacy

import (
	"regexp"
	"strings"
)

// reContact matches an e-mail address, or a Weibo mention (a repost chain
// names users too: "//@李四:"). One pass, leftmost first, so the domain of
// an address is not taken for a mention.
var reContact = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+|@[^\s@:：,，.。!！?？;；、()（）\[\]【】#]{1,30}`)

// MaskPublic removes personal data from a text before it is shown publicly
// (the public case page, Open311). It is stricter than Mask:
//
//   - mobile numbers keep their first three and last four digits
//     (13812345678 → 138****5678), also written with spaces or dashes;
//   - 18-character ID numbers keep their first three and last four
//     (34050319900101123X → 340***********123X);
//   - every other run of ten or more digits (landlines with their area
//     code, 15-digit IDs, bank cards) keeps only its last four;
//   - e-mail addresses become ***@domain, and @mentions of Weibo users
//     become @用户.
//
// Full-width digits count as digits. Shorter runs of digits (dates, house
// numbers, amounts) are kept, except what Mask also hides (a landline
// after its bracketed area code or after 电话, 手机 …), since MaskPublic
// ends with Mask. Invalid UTF-8 becomes U+FFFD.
func MaskPublic(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = reContact.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "@") {
			return "@用户"
		}
		_, domain, _ := strings.Cut(m, "@")
		return "***@" + domain
	})
	return Mask(maskLongNumbers(s))
}

func digitValue(r rune) (byte, bool) {
	switch {
	case r >= '0' && r <= '9':
		return byte(r), true
	case r >= '０' && r <= '９':
		return byte('0' + r - '０'), true
	}
	return 0, false
}

// maskLongNumbers finds runs of digits (a single space or dash between two
// digits continues a run, as in 138-1234-5678; an X or x after 17 digits
// ends an ID number) and masks those that may identify a person.
func maskLongNumbers(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); {
		if _, ok := digitValue(rs[i]); !ok {
			b.WriteRune(rs[i])
			i++
			continue
		}
		// A run that follows a Latin letter (with or without a dash) is part
		// of a code such as the case number MSB-20261126-0042: only a
		// mobile or ID number in it is masked, and a space ends it.
		code := i > 0 && (isLatin(rs[i-1]) || rs[i-1] == '-' && i > 1 && isLatin(rs[i-2]))
		j := i
		var digits []byte
		for j < len(rs) {
			if d, ok := digitValue(rs[j]); ok {
				digits = append(digits, d)
				j++
				continue
			}
			if (rs[j] == ' ' && !code || rs[j] == '-') && j+1 < len(rs) {
				if _, ok := digitValue(rs[j+1]); ok {
					j++
					continue
				}
			}
			break
		}
		if len(digits) == 17 && j < len(rs) && (rs[j] == 'X' || rs[j] == 'x') {
			digits = append(digits, 'X')
			j++
		}
		switch n := len(digits); {
		case code && n != 11 && n != 18:
			b.WriteString(string(rs[i:j]))
		case n == 11 && digits[0] == '1':
			b.WriteString(string(digits[:3]) + "****" + string(digits[7:]))
		case n == 18:
			b.WriteString(string(digits[:3]) + strings.Repeat("*", 11) + string(digits[14:]))
		case n >= 10:
			b.WriteString(strings.Repeat("*", n-4) + string(digits[n-4:]))
		default:
			b.WriteString(string(rs[i:j]))
		}
		i = j
	}
	return b.String()
}

func isLatin(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' }
