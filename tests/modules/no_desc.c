/* tests/modules/no_desc.c — a shared object with no descriptor at all, only
 * an ordinary function: "not a modhost module". */
int no_desc_answer(void);

int no_desc_answer(void)
{
	return 42;
}
