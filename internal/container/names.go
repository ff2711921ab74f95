package container

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"

	"github.com/containerd/errdefs"
)

// validName is Docker's rule for container names, with or without the
// leading slash.
var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// normalizeName checks a user-given name and returns it with its slash.
func normalizeName(name string) (string, error) {
	if !validName.MatchString(name) {
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name))
	}
	if name[0] != '/' {
		name = "/" + name
	}
	return name, nil
}

// Generated names are adjective_surname, as Docker's: the adjectives are
// friendly and the surnames are of scientists and engineers.
var (
	nameAdjectives = []string{
		"admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful",
		"blissful", "bold", "boring", "brave", "busy", "charming", "clever", "compassionate",
		"competent", "condescending", "confident", "cool", "cranky", "crazy", "dazzling", "determined",
		"distracted", "dreamy", "eager", "ecstatic", "elastic", "elated", "elegant", "eloquent",
		"epic", "exciting", "fervent", "festive", "flamboyant", "focused", "friendly", "frosty",
		"funny", "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore",
		"heuristic", "hopeful", "hungry", "infallible", "inspiring", "intelligent", "interesting", "jolly",
		"jovial", "keen", "kind", "laughing", "loving", "lucid", "magical", "modest",
		"musing", "mystifying", "naughty", "nervous", "nice", "nifty", "nostalgic", "objective",
		"optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical",
		"recursing", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly",
		"sleepy", "stoic", "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty",
		"trusting", "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial",
		"youthful", "zealous", "zen",
	}
	nameSurnames = []string{
		"agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "babbage",
		"banach", "bardeen", "bartik", "bassi", "bell", "bhabha", "bhaskara", "blackwell",
		"bohr", "booth", "borg", "bose", "boyd", "brahmagupta", "brattain", "brown",
		"carson", "cerf", "chandrasekhar", "clarke", "colden", "cori", "cray", "curie",
		"darwin", "davinci", "dijkstra", "dubinsky", "easley", "edison", "einstein", "elion",
		"engelbart", "euclid", "euler", "faraday", "fermat", "fermi", "feynman", "franklin",
		"galileo", "gates", "goldberg", "goldstine", "goodall", "gould", "hamilton", "hawking",
		"heisenberg", "hermann", "hertz", "hodgkin", "hofstadter", "hopper", "hypatia", "jackson",
		"jang", "jennings", "johnson", "joliot", "kalam", "kapitsa", "keller", "kepler",
		"khorana", "kilby", "kirch", "knuth", "lalande", "lamarr", "lamport", "leakey",
		"leavitt", "lehmann", "lewin", "liskov", "lovelace", "lumiere", "mahavira", "margulis",
		"matsumoto", "maxwell", "mayer", "mccarthy", "mcclintock", "meitner", "mendel", "merkle",
		"mirzakhani", "montalcini", "moore", "morse", "murdock", "napier", "nash", "neumann",
		"newton", "nobel", "noether", "northcutt", "noyce", "panini", "pascal", "pasteur",
		"payne", "perlman", "pike", "poincare", "ptolemy", "raman", "ramanujan", "ride",
		"ritchie", "roentgen", "rosalind", "saha", "sammet", "shannon", "shaw", "shockley",
		"sinoussi", "snyder", "spence", "stonebraker", "sutherland", "swanson", "swartz", "tesla",
		"thompson", "torvalds", "turing", "varahamihira", "villani", "volhard", "wescoff", "wiles",
		"williams", "wilson", "wing", "wozniak", "wright", "wu", "yalow", "yonath",
	}
)

// randomName returns adjective_surname; from the second try on a digit
// is appended, as Docker does. "boring_wozniak" is never produced:
// Steve Wozniak is not boring.
func randomName(try int) string {
	for {
		name := nameAdjectives[rand.IntN(len(nameAdjectives))] + "_" + nameSurnames[rand.IntN(len(nameSurnames))]
		if name == "boring_wozniak" {
			continue
		}
		if try > 0 {
			name += strconv.Itoa(rand.IntN(10))
		}
		return name
	}
}
