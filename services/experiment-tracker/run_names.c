/* The random names runs/create gives a run that has none (face: et.h), from the word
 * lists MLflow draws its "<adjective>-<animal>-<number>" names from
 * (mlflow/utils/name_utils.py). */
#include <stdint.h>
#include <stdio.h>
#include "core/id.h"
#include "et.h"

static const char *const adjectives[] = {
	"abundant",  "agreeable", "amazing",    "auspicious", "bedecked",   "bemused",    "bold",        "brawny",
	"bright",    "bustling",  "capable",    "carefree",   "casual",     "clean",      "clumsy",      "colorful",
	"crawling",  "dapper",    "debonair",   "delicate",   "efficient",  "enchanting", "fearless",    "gaudy",
	"gentle",    "gifted",    "glamorous",  "grandiose",  "handsome",   "honorable",  "illustrious", "indecisive",
	"judicious", "kindly",    "learned",    "legendary",  "likeable",   "loud",       "luminous",    "marvelous",
	"masked",    "melodic",   "merciful",   "mysterious", "nebulous",   "omniscient", "orderly",     "overjoyed",
	"peaceful",  "painted",   "persistent", "placid",     "polite",     "popular",    "puzzled",     "rambunctious",
	"receptive", "redolent",  "resilient",  "righteous",  "rogue",      "rumbling",   "sassy",       "secretive",
	"selective", "sedate",    "serious",    "shivering",  "silent",     "skillful",   "smiling",     "spiffy",
	"stately",   "suave",     "stylish",    "tasteful",   "thoughtful", "thundering", "traveling",   "treasured",
	"trusting",  "unequaled", "upbeat",     "unique",     "valuable",   "vaunted",    "victorious",  "welcoming",
	"whimsical", "wise",      "worried",    "youthful",
};
static const char *const animals[] = {
	"ant",   "ape",   "asp",    "auk",   "bass",   "bat",     "bear",     "bee",   "bird",  "boar",    "bug",
	"calf",  "carp",  "cat",    "chimp", "cod",    "colt",    "conch",    "cow",   "crab",  "crane",   "croc",
	"crow",  "cub",   "deer",   "doe",   "dog",    "dolphin", "donkey",   "dove",  "duck",  "eel",     "elk",
	"fawn",  "finch", "fish",   "flea",  "fly",    "foal",    "fowl",     "fox",   "frog",  "gnat",    "gnu",
	"goat",  "goose", "grouse", "grub",  "gull",   "hare",    "hawk",     "hen",   "hog",   "horse",   "hound",
	"jay",   "kit",   "kite",   "koi",   "lamb",   "lark",    "loon",     "lynx",  "mare",  "midge",   "mink",
	"mole",  "moose", "moth",   "mouse", "mule",   "newt",    "owl",      "ox",    "panda", "penguin", "perch",
	"pig",   "pug",   "quail",  "ram",   "rat",    "ray",     "robin",    "roo",   "rook",  "seal",    "shad",
	"shark", "sheep", "shoat",  "shrew", "shrike", "shrimp",  "skink",    "skunk", "sloth", "slug",    "smelt",
	"snail", "snake", "snipe",  "sow",   "sponge", "squid",   "squirrel", "stag",  "steed", "stoat",   "stork",
	"swan",  "tern",  "toad",   "trout", "turtle", "vole",    "wasp",     "whale", "wolf",  "worm",    "wren",
	"yak",   "zebra",
};

void et_random_run_name(char out[64])
{
	uint32_t r[3];
	core_id_random_bytes(r, sizeof r);
	snprintf(out, 64, "%s-%s-%u", adjectives[r[0] % (sizeof adjectives / sizeof adjectives[0])],
		 animals[r[1] % (sizeof animals / sizeof animals[0])], (unsigned)(r[2] % 1000));
}
