"""Generate the bundled sample graphs in graphs/ (deterministic: fixed seed, no I/O but the outputs).

    python graphs/make_samples.py            # rewrite the files next to this script
    python graphs/make_samples.py --check    # exit 1 if a committed file differs from what it would write

One fictional movie world is written four ways:

* ``movies_kb.txt``: the whole world as MetaQA ``head|relation|tail`` (entity ids are names);
* ``movies.ttl``: the first 8 movies and everything they link to, as Turtle with labels,
  types, literal properties and blank nodes;
* ``movies_qa_{train,test}.txt`` (+ ``_qtype``): MetaQA-style 1- and 2-hop questions with all
  answers computed from the KB; train and test share no (question type, topic entity) pair;
* ``bad/``: small malformed files with errors on known lines (see graphs/README.md).

The world has structure a model can pick up: directors keep to one or two genres, one home
language and a period; actors mostly work within a director's troupe; tags follow genres.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

SEED = 20240611
HERE = Path(__file__).resolve().parent

FIRST = """Ada Alan Alice Amir Ana Anton Aria Ben Bianca Boris Carla Caleb Chen Clara Dario Diana Elena Eli Emma
Farah Felix Greta Hana Hugo Ines Isaac Ivy Jonas Julia Kai Karin Leo Lina Lucas Maya Marco Mira Nadia Noah Olga
Omar Paula Pavel Quinn Rosa Ruben Sara Sofia Tomas Una Victor Vera Wen Yara Yusuf Zoe""".split()
LAST = """Abbott Alvarez Bauer Becker Brennan Castillo Chandra Dalton Dubois Eriksen Ferreira Fischer Garner Haddad
Hartmann Ibarra Jansen Kaplan Kimura Kowalski Laurent Lindqvist Moreau Murphy Nakamura Novak Okafor Olsen Park
Petrov Quinlan Rahman Rossi Santos Schmidt Silva Tanaka Varga Weber Whitaker Yilmaz Zhang""".split()

TITLE_ADJ = """Silent Broken Crimson Hidden Last Golden Frozen Distant Burning Hollow Midnight Restless Quiet Savage
Velvet Wandering Electric Forgotten Scarlet Iron""".split()
TITLE_NOUN = """Harbor Orchard Signal Horizon Garden Empire Letters Mirror River Station Winter Kingdom Lantern Shadows
Compass Voyage Promise Frontier Carnival Echo""".split()
TITLE_PLACE = "Lisbon Kyoto Marseille Havana Oslo Seoul Tangier Valparaiso Bruges Odessa".split()

GENRES = {
    "Drama": ["family", "grief", "coming of age"],
    "Comedy": ["satire", "road trip", "wedding"],
    "Thriller": ["conspiracy", "twist ending", "heist"],
    "Crime": ["heist", "police", "noir"],
    "Science Fiction": ["space", "time travel", "dystopia"],
    "Horror": ["haunted house", "survival", "monster"],
    "Romance": ["wedding", "love triangle", "letters"],
    "Animation": ["talking animals", "family", "fairy tale"],
    "War": ["world war ii", "survival", "soldiers"],
    "Documentary": ["music", "nature", "biography"],
}
LANGUAGES = ["English"] * 6 + ["French", "Spanish", "Japanese", "Korean", "German"]
EXTRA_TAGS = ["based on novel", "black and white", "remake", "cult film", "oscar winner", "ensemble cast"]

N_MOVIES, N_DIRECTORS, N_WRITERS, N_ACTORS = 60, 18, 22, 100


def _title(rng: random.Random, used: set[str]) -> str:
    while True:
        form = rng.random()
        if form < 0.45:
            title = f"The {rng.choice(TITLE_ADJ)} {rng.choice(TITLE_NOUN)}"
        elif form < 0.7:
            title = f"{rng.choice(TITLE_ADJ)} {rng.choice(TITLE_NOUN)}"
        elif form < 0.85:
            title = f"{rng.choice(TITLE_NOUN)} of {rng.choice(TITLE_PLACE)}"
        else:
            title = f"{rng.choice(['Midnight in', 'Letters from', 'Return to', 'Winter in'])} {rng.choice(TITLE_PLACE)}"
        if title not in used:
            used.add(title)
            return title


def _people(rng: random.Random, count: int, used: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if name not in used:
            used.add(name)
            out.append(name)
    return out


def build_world(seed: int = SEED) -> dict:
    """Movies with their attributes, and the KB triples in a stable order."""
    rng = random.Random(seed)
    used: set[str] = set()
    directors = _people(rng, N_DIRECTORS, used)
    writers = _people(rng, N_WRITERS, used)
    actors = _people(rng, N_ACTORS, used)
    genres = list(GENRES)
    profile = {}
    for i, director in enumerate(directors):
        start = rng.randrange(1955, 2005)
        profile[director] = {
            "genres": rng.sample(genres, 2 if i % 3 else 1),
            "language": LANGUAGES[i % len(LANGUAGES)] if i % 4 == 3 else "English",
            "years": (start, start + rng.randrange(10, 25)),
            "troupe": rng.sample(actors, 10),
            "writers": rng.sample(writers, 3) + ([director] if i % 3 == 0 else []),  # some write their own films
        }
    movies = []
    for m in range(N_MOVIES):
        director = directors[m % N_DIRECTORS] if m < N_DIRECTORS else rng.choice(directors)
        p = profile[director]
        genre = rng.choice(p["genres"])
        movie_genres = [genre] + ([g] if (g := rng.choice(genres)) != genre and rng.random() < 0.3 else [])
        cast = rng.sample(p["troupe"], rng.randint(3, 4)) + rng.sample([a for a in actors if a not in p["troupe"]], 1)
        tags = sorted({rng.choice(GENRES[genre])} | ({rng.choice(EXTRA_TAGS)} if rng.random() < 0.5 else set()))
        movies.append(
            {
                "title": _title(rng, used),
                "directors": [director],
                "writers": sorted(set(rng.sample(p["writers"], rng.randint(1, 2)))),
                "actors": cast,
                "year": str(rng.randint(*p["years"])),
                "language": p["language"] if rng.random() < 0.9 else rng.choice(LANGUAGES),
                "genres": movie_genres,
                "tags": tags,
                "rating": f"{rng.uniform(5.2, 8.9):.1f}",
                "votes": str(rng.randrange(800, 250000)),
            }
        )
    triples = []
    for mv in movies:
        t = mv["title"]
        triples += [(t, "directed_by", d) for d in mv["directors"]]
        triples += [(t, "written_by", w) for w in mv["writers"]]
        triples += [(t, "starred_actors", a) for a in mv["actors"]]
        triples += [(t, "release_year", mv["year"]), (t, "in_language", mv["language"])]
        triples += [(t, "has_genre", g) for g in mv["genres"]]
        triples += [(t, "has_tags", g) for g in mv["tags"]]
    return {"movies": movies, "triples": triples}


# ---------------------------------------------------------------------------------------
# questions
# ---------------------------------------------------------------------------------------
ONE_HOP = {  # qtype: (relation, direction, templates); direction +1 = movie -> value
    "movie_to_director": ("directed_by", 1, ["who directed [X]", "who is the director of [X]", "[X] was directed by who", "who was [X] directed by"]),
    "director_to_movie": ("directed_by", -1, ["what movies did [X] direct", "what films did [X] direct", "[X] directed which movies", "which films were directed by [X]"]),
    "movie_to_writer": ("written_by", 1, ["who wrote [X]", "who is the writer of [X]", "[X] was written by who", "who wrote the screenplay for [X]"]),
    "writer_to_movie": ("written_by", -1, ["what movies did [X] write", "what films are written by [X]", "[X] wrote which movies", "which films did [X] write the story for"]),
    "movie_to_actor": ("starred_actors", 1, ["who acted in [X]", "who starred in [X]", "who are the actors in [X]", "the movie [X] starred who"]),
    "actor_to_movie": ("starred_actors", -1, ["what movies did [X] act in", "what films did [X] star in", "[X] appears in which movies", "which films was [X] in"]),
    "movie_to_year": ("release_year", 1, ["when was [X] released", "what year was [X] released", "[X] came out in which year", "in which year did [X] release"]),
    "movie_to_language": ("in_language", 1, ["what language is [X] in", "what is the language spoken in [X]", "which language is the movie [X] in"]),
    "movie_to_genre": ("has_genre", 1, ["what genre is [X]", "what type of film is [X]", "what kind of movie is [X]"]),
    "movie_to_tags": ("has_tags", 1, ["what words describe [X]", "what is [X] about", "which topics is [X] about"]),
    "tag_to_movie": ("has_tags", -1, ["which movies can be described by [X]", "what movies are about [X]", "what films have the tag [X]"]),
}
TWO_HOP = {  # qtype: (first hop, second hop, templates); each hop is (relation, direction)
    "actor_to_movie_to_director": (("starred_actors", -1), ("directed_by", 1), ["who directed the movies [X] acted in", "the films starred by [X] were directed by who", "who are the directors of the films [X] starred in"]),
    "director_to_movie_to_actor": (("directed_by", -1), ("starred_actors", 1), ["who starred in the movies directed by [X]", "who acted in the films [X] directed", "the movies directed by [X] starred which actors"]),
    "actor_to_movie_to_writer": (("starred_actors", -1), ("written_by", 1), ["who wrote the movies [X] acted in", "the films starred by [X] were written by who"]),
    "writer_to_movie_to_director": (("written_by", -1), ("directed_by", 1), ["who directed the films written by [X]", "the movies written by [X] were directed by who"]),
    "actor_to_movie_to_year": (("starred_actors", -1), ("release_year", 1), ["when did the movies [X] acted in release", "the films starred by [X] were released in which years"]),
    "director_to_movie_to_genre": (("directed_by", -1), ("has_genre", 1), ["what genres are the movies directed by [X]", "what types are the films [X] directed"]),
    "actor_to_movie_to_language": (("starred_actors", -1), ("in_language", 1), ["what languages are the movies [X] acted in", "the films starred by [X] are in which languages"]),
    "movie_to_director_to_movie": (("directed_by", 1), ("directed_by", -1), ["which movies have the same director as [X]", "what films share directors with [X]"]),
    "movie_to_actor_to_movie": (("starred_actors", 1), ("starred_actors", -1), ["what other movies did the actors of [X] act in", "which films share actors with [X]"]),
}
MAX_ANSWERS = 12
TEST_FRACTION = 0.12


def _hop(kb: dict, entities: set[str], relation: str, direction: int) -> set[str]:
    index = kb[(relation, direction)]
    return {y for x in entities for y in index.get(x, ())}


def build_questions(triples: list[tuple[str, str, str]], seed: int = SEED) -> tuple[list, list]:
    """All (qtype, topic) instances with 1..MAX_ANSWERS answers, split train/test by instance."""
    kb: dict = defaultdict(lambda: defaultdict(set))
    for h, r, t in triples:
        kb[(r, 1)][h].add(t)
        kb[(r, -1)][t].add(h)
    rng = random.Random(seed + 1)
    train, test = [], []
    specs = [(q, [(rel, d)], tpl) for q, (rel, d, tpl) in ONE_HOP.items()]
    specs += [(q, [h1, h2], tpl) for q, (h1, h2, tpl) in TWO_HOP.items()]
    for qtype, hops, templates in specs:
        instances = []
        for topic in sorted(kb[hops[0]]):
            answers = {topic}
            for relation, direction in hops:
                answers = _hop(kb, answers, relation, direction)
            answers.discard(topic)
            if 0 < len(answers) <= MAX_ANSWERS:
                instances.append((topic, sorted(answers)))
        rng.shuffle(instances)
        n_test = max(1, round(len(instances) * TEST_FRACTION))
        for i, (topic, answers) in enumerate(instances):
            question = rng.choice(templates).replace("[X]", f"[{topic}]")
            (test if i < n_test else train).append((question, answers, qtype))
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


# ---------------------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------------------
def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")


def _lit(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def turtle(world: dict, n_movies: int = 8) -> str:
    movies = world["movies"][:n_movies]
    out = [
        "# A small movie knowledge graph (fictional), generated by graphs/make_samples.py.",
        "# The same world as movies_kb.txt, first 8 movies, in Turtle.",
        "@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .",
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .",
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .",
        "@prefix schema: <http://schema.org/> .",
        "@prefix mv: <http://example.org/movies/> .",
        "@prefix mvo: <http://example.org/movies/vocab#> .",
        "",
    ]
    people: dict[str, set[str]] = defaultdict(set)
    genres, languages, tags = set(), set(), set()
    for i, mv in enumerate(movies):
        for role, key in (("Director", "directors"), ("Writer", "writers"), ("Actor", "actors")):
            for person in mv[key]:
                people[person].add(role)
        genres.update(mv["genres"])
        languages.add(mv["language"])
        tags.update(mv["tags"])
        comment = f"A {mv['year']} {mv['genres'][0].lower()} film directed by {mv['directors'][0]}."
        lines = [
            f"mv:{_slug(mv['title'])} a schema:Movie ;",
            f"    rdfs:label {_lit(mv['title'])}@en ;",
            f"    rdfs:comment {_lit(comment)}@en ;",
            f"    schema:datePublished \"{mv['year']}\"^^xsd:gYear ;",
            "    schema:director " + ", ".join(f"mv:{_slug(p)}" for p in mv["directors"]) + " ;",
            "    schema:author " + ", ".join(f"mv:{_slug(p)}" for p in mv["writers"]) + " ;",
            "    schema:actor " + ", ".join(f"mv:{_slug(p)}" for p in mv["actors"]) + " ;",
            "    schema:genre " + ", ".join(f"mv:genre_{_slug(g)}" for g in mv["genres"]) + " ;",
            f"    schema:inLanguage mv:lang_{_slug(mv['language'])} ;",
            "    mvo:hasTag " + ", ".join(f"mv:tag_{_slug(t)}" for t in mv["tags"]) + " ;",
        ]
        if i < 2:  # two movies carry their rating as a blank node, as schema.org does
            lines.append(
                "    schema:aggregateRating [ a schema:AggregateRating ; "
                f"schema:ratingValue \"{mv['rating']}\"^^xsd:decimal ; schema:ratingCount \"{mv['votes']}\"^^xsd:integer ] ."
            )
        else:
            lines.append(f"    mvo:imdbRating \"{mv['rating']}\"^^xsd:decimal ;")
            lines.append(f"    mvo:imdbVotes \"{mv['votes']}\"^^xsd:integer .")
        out += lines + [""]
    for person in sorted(people):
        types = ", ".join(["schema:Person"] + [f"mvo:{r}" for r in sorted(people[person])])
        out.append(f"mv:{_slug(person)} a {types} ; rdfs:label {_lit(person)} .")
    out.append("")
    for g in sorted(genres):
        out.append(f"mv:genre_{_slug(g)} a mvo:Genre ; rdfs:label {_lit(g)}@en .")
    for lang in sorted(languages):
        extra = ' , "Englisch"@de' if lang == "English" else ""
        out.append(f"mv:lang_{_slug(lang)} a schema:Language ; rdfs:label {_lit(lang)}@en{extra} .")
    for t in sorted(tags):
        out.append(f"mv:tag_{_slug(t)} a mvo:Tag ; rdfs:label {_lit(t)} .")
    return "\n".join(out) + "\n"


BAD_FILES = {
    # line 3 has 2 fields, line 5 an empty relation
    "bad/bad_fields.tsv": "Heat\tdirected_by\tMichael Mann\nHeat\trelease_year\t1995\nHeat\tAl Pacino\n"
    "Ronin\tdirected_by\tJohn Frankenheimer\nRonin\t\tRobert De Niro\n",
    # the statement starting on line 6 has no object
    "bad/syntax_error.ttl": "@prefix ex: <http://example.org/> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n\n"
    'ex:heat rdfs:label "Heat" ;\n    ex:director ex:mann .\nex:ronin ex:director ;\n    rdfs:label "Ronin" .\n',
    # line 3 is missing its final ' .'; lines 1, 2 and 4 are fine
    "bad/one_bad_line.nt": "<http://example.org/heat> <http://example.org/director> <http://example.org/mann> .\n"
    '<http://example.org/heat> <http://www.w3.org/2000/01/rdf-schema#label> "Heat"@en .\n'
    "<http://example.org/ronin> <http://example.org/director> <http://example.org/frankenheimer>\n"
    '<http://example.org/ronin> <http://www.w3.org/2000/01/rdf-schema#label> "Ronin"@en .\n',
}


def render(seed: int = SEED) -> dict[str, str]:
    """Every output file name (relative to graphs/) -> its text."""
    world = build_world(seed)
    train, test = build_questions(world["triples"], seed)
    files = {
        "movies_kb.txt": "".join(f"{h}|{r}|{t}\n" for h, r, t in world["triples"]),
        "movies.ttl": turtle(world),
        "movies_qa_train.txt": "".join(f"{q}\t{'|'.join(a)}\n" for q, a, _ in train),
        "movies_qa_train_qtype.txt": "".join(f"{k}\n" for _, _, k in train),
        "movies_qa_test.txt": "".join(f"{q}\t{'|'.join(a)}\n" for q, a, _ in test),
        "movies_qa_test_qtype.txt": "".join(f"{k}\n" for _, _, k in test),
    }
    files.update(BAD_FILES)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
