"""The eight CALVIN skills that DiWA fine-tunes, in the order the paper reports them."""

SKILLS: tuple[str, ...] = (
    "open_drawer",
    "close_drawer",
    "move_slider_left",
    "move_slider_right",
    "turn_on_lightbulb",
    "turn_off_lightbulb",
    "turn_on_led",
    "turn_off_led",
)


class UnknownSkillError(ValueError):
    """A skill name outside SKILLS; the message lists the known ones so a typo is easy to fix."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown skill {name!r}; known skills: {', '.join(SKILLS)}")
        self.name = name


def check_skill(name: str) -> str:
    """Return `name` if it is one of SKILLS, else raise UnknownSkillError."""
    if name not in SKILLS:
        raise UnknownSkillError(name)
    return name
