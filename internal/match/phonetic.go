package match

// phonetic returns a short sound key of a normalised word, for blocking: the
// first letter (a vowel as is), then the consonants with similar sounds merged (c, k, q and
// ck; s and z; f, v, ph and w; d and t; b and p; g and j), doubled letters
// once, vowels, h and y dropped, cut to five letters. "futterkiste" and
// "futerkiste" share "ftrks". Words without letters give "".
func phonetic(w string) string {
	var out [8]byte
	n := 0
	var last byte
	for i := 0; i < len(w) && n < 5; i++ {
		c := w[i]
		if c < 'a' || c > 'z' {
			continue
		}
		if c == 'p' && i+1 < len(w) && w[i+1] == 'h' {
			c = 'f'
			i++
		}
		k := soundClass(c)
		if n == 0 {
			out[0], n, last = c, 1, k
			if k != 0 {
				out[0] = k
			}
			continue
		}
		if k == 0 {
			last = 0
			continue
		}
		if k == last {
			continue
		}
		out[n] = k
		n++
		last = k
	}
	return string(out[:n])
}

func soundClass(c byte) byte {
	switch c {
	case 'a', 'e', 'i', 'o', 'u', 'y', 'h':
		return 0
	case 'c', 'k', 'q', 'x':
		return 'k'
	case 's', 'z':
		return 's'
	case 'f', 'v', 'w':
		return 'f'
	case 'd', 't':
		return 't'
	case 'b', 'p':
		return 'p'
	case 'g', 'j':
		return 'g'
	}
	return c
}
