"""Word lists the recognizers and the post-processing look words up in: given names, surnames, places and
ordinary English words read from `data/*.txt`, and the romanized Korean/Mandarin name-syllable shape."""

from __future__ import annotations

import functools
from importlib.resources import files


@functools.cache
def word_list(name: str) -> frozenset[str]:
    """The entries of `data/<name>` (one per line; blank lines and `#` comment lines skipped), read once."""
    text = (files(__package__) / "data" / name).read_text(encoding="utf-8")
    return frozenset(entry for line in text.splitlines() if (entry := line.strip()) and not entry.startswith("#"))


@functools.cache
def first_names() -> frozenset[str]:
    """Given names, lower-cased: the US Census 1990 lists plus a multicultural list (`data/first_names.txt`)
    and Faker's Latin-script given names of every locale (`data/given_names_intl.txt`)."""
    return word_list("first_names.txt") | word_list("given_names_intl.txt")


def ambiguous_first_names() -> frozenset[str]:
    """Given names that are also ordinary English words, lower-cased (`data/ambiguous_first_names.txt`)."""
    return word_list("ambiguous_first_names.txt")


@functools.cache
def surnames() -> frozenset[str]:
    """Surnames, lower-cased: the US Census 1990 list minus English words and places (`data/surnames.txt`) and
    Faker's Latin-script surnames of every locale (`data/surnames_intl.txt`)."""
    return word_list("surnames.txt") | word_list("surnames_intl.txt")


def common_words() -> frozenset[str]:
    """Ordinary English words, lower case (SCOWL's lower-case entries, `data/common_words.txt`) plus domain terms
    (legal, medical, product and category words, `data/domain_terms.txt`)."""
    return _common_words()


@functools.cache
def _common_words() -> frozenset[str]:
    return word_list("common_words.txt") | word_list("domain_terms.txt")


@functools.lru_cache(maxsize=65536)
def is_inflected_word(low: str) -> bool:
    """An inflection of an ordinary word that the word list does not spell out ("owes", "texted", "hiking")."""
    words = common_words()
    stems = [low[:-1], low[:-2]] if low.endswith("es") else [low[:-1]] if low.endswith("s") else []
    if low.endswith("ed"):
        stems += [low[:-2], low[:-1]]
    if low.endswith("ing"):
        stems += [low[:-3], low[:-3] + "e"]
    return any(len(stem) >= 3 and stem in words for stem in stems)


def is_known_name(word: str) -> bool:
    """A given name or surname of the lists that is not also an ordinary English word."""
    low = word.lower().strip(".'’")
    return (low in first_names() or low in surnames()) and low not in common_words()


def places() -> frozenset[str]:
    """Place names, lower case (cities, states, regions, countries: `data/places.txt`)."""
    return word_list("places.txt")


# Romanized Korean (Revised Romanization and the spellings common in names) and Mandarin (Hanyu Pinyin, tones
# dropped) syllables that make up given names: a lower-case word made of two of them ("taehyung", "xiaoming")
# is name-shaped. Written for veilflow from the two romanization tables; only syllables seen in given names.
_ROMAN_SYLLABLES = frozenset(
    [
        "a",
        "ae",
        "ah",
        "ahn",
        "ai",
        "an",
        "ang",
        "ao",
        "ba",
        "bae",
        "baek",
        "bai",
        "ban",
        "bang",
        "bao",
        "bei",
        "ben",
        "beom",
        "bin",
        "bing",
        "bo",
        "bok",
        "bom",
        "bong",
        "bu",
        "chae",
        "chan",
        "chang",
        "chao",
        "chen",
        "cheng",
        "cheol",
        "cheon",
        "chi",
        "chiu",
        "cho",
        "choi",
        "chong",
        "chu",
        "chul",
        "chun",
        "chung",
        "da",
        "dae",
        "dan",
        "dang",
        "dao",
        "de",
        "deok",
        "do",
        "dong",
        "du",
        "duk",
        "eun",
        "eui",
        "fa",
        "fan",
        "fang",
        "fei",
        "fen",
        "feng",
        "fu",
        "gang",
        "gao",
        "ge",
        "geon",
        "geun",
        "gi",
        "gil",
        "gon",
        "gong",
        "gu",
        "guk",
        "gun",
        "guo",
        "gwang",
        "gyu",
        "ha",
        "hae",
        "hai",
        "han",
        "hang",
        "hao",
        "he",
        "hee",
        "hei",
        "heon",
        "heung",
        "ho",
        "hoon",
        "hong",
        "hou",
        "hu",
        "hua",
        "huan",
        "huang",
        "hui",
        "hun",
        "hwa",
        "hwan",
        "hye",
        "hyeon",
        "hyo",
        "hyuk",
        "hyun",
        "hyung",
        "ja",
        "jae",
        "jang",
        "je",
        "jeong",
        "ji",
        "jia",
        "jian",
        "jiang",
        "jiao",
        "jie",
        "jin",
        "jing",
        "jiong",
        "jiu",
        "jong",
        "joo",
        "ju",
        "jun",
        "jung",
        "kai",
        "kang",
        "kook",
        "kun",
        "kwan",
        "kwang",
        "kyu",
        "kyung",
        "lan",
        "lei",
        "li",
        "lian",
        "liang",
        "lin",
        "ling",
        "liu",
        "long",
        "lu",
        "mei",
        "meng",
        "mi",
        "mian",
        "miao",
        "min",
        "ming",
        "mo",
        "mu",
        "myung",
        "na",
        "nam",
        "nan",
        "ning",
        "pei",
        "peng",
        "ping",
        "qi",
        "qian",
        "qiang",
        "qin",
        "qing",
        "qiu",
        "quan",
        "ran",
        "ri",
        "rong",
        "ru",
        "rui",
        "ryu",
        "sang",
        "se",
        "seo",
        "seok",
        "seon",
        "seong",
        "seul",
        "shan",
        "shao",
        "shen",
        "sheng",
        "shi",
        "shu",
        "shuang",
        "si",
        "so",
        "sol",
        "son",
        "song",
        "soo",
        "su",
        "suk",
        "sun",
        "sung",
        "tae",
        "tai",
        "tao",
        "tian",
        "ting",
        "tong",
        "wan",
        "wang",
        "wei",
        "wen",
        "woo",
        "won",
        "wu",
        "xi",
        "xia",
        "xian",
        "xiang",
        "xiao",
        "xin",
        "xing",
        "xiu",
        "xu",
        "xuan",
        "xue",
        "ya",
        "yan",
        "yang",
        "yao",
        "ye",
        "yeon",
        "yeong",
        "yi",
        "yin",
        "ying",
        "yong",
        "yoo",
        "yoon",
        "you",
        "young",
        "yu",
        "yuan",
        "yue",
        "yun",
        "ze",
        "zhan",
        "zhang",
        "zhao",
        "zhe",
        "zhen",
        "zheng",
        "zhi",
        "zhong",
        "zhou",
        "zhu",
        "zi",
    ]
)


@functools.cache
def romanized_name_shape(word: str) -> bool:
    """A lower-case word of 4-10 letters made of exactly two romanized Korean/Mandarin name syllables."""
    if not 4 <= len(word) <= 10 or not word.isalpha():
        return False
    w = word.lower()
    return any(w[:i] in _ROMAN_SYLLABLES and w[i:] in _ROMAN_SYLLABLES for i in range(1, len(w)))


def proper_common_words() -> frozenset[str]:
    """Ordinary words that are also proper nouns (Trump, Smith, Will, Reading ...), lower case (`data/proper_common_words.txt`)."""
    return word_list("proper_common_words.txt")
