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


EPISODE_STEP_LIMIT = 72
"""DiWA's episode limit: a skill succeeds within 72 control steps (18 chunks of 4) or fails, in
evaluation, in demonstrations and in imagination (docs/reference.md §1)."""

CHUNK_STEPS = 4
"""DiWA's action chunk: the policy predicts 4 actions at a time (the profiles' diffusion.horizon),
and the reward classifier judges the last latent of every chunk (docs/reference.md §1)."""


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


def parse_skill_list(text: str) -> list[str]:
    """'all' or a comma-separated list of skill names, as the command line takes them."""
    if text == "all":
        return list(SKILLS)
    skills = [check_skill(name.strip()) for name in text.split(",") if name.strip()]
    if not skills:
        raise ValueError(f"no skill named in {text!r}; give 'all' or a comma-separated list")
    return skills
